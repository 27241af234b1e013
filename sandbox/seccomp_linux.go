// SPDX-License-Identifier: Apache-2.0

//go:build linux && cgo

package sandbox

import (
	"errors"
	"fmt"
	"os"
	"unsafe"

	seccomp "github.com/seccomp/libseccomp-golang"
	"golang.org/x/sys/unix"
)

// seccompSupport reports whether seccomp filters can be loaded on all
// threads, and if not, why.
func seccompSupport() (bool, string) {
	if _, err := unix.PrctlRetInt(unix.PR_GET_SECCOMP, 0, 0, 0, 0); err != nil {
		return false, "kernel has no seccomp (CONFIG_SECCOMP)"
	}
	action := uint32(unix.SECCOMP_RET_ERRNO)
	if _, _, errno := unix.Syscall(unix.SYS_SECCOMP, unix.SECCOMP_GET_ACTION_AVAIL, 0, uintptr(unsafe.Pointer(&action))); errno != 0 {
		return false, fmt.Sprintf("kernel has no seccomp filters (CONFIG_SECCOMP_FILTER): %v", errno)
	}
	// API level 2 means the kernel has SECCOMP_FILTER_FLAG_TSYNC.
	// NewFilter turns TSYNC on but silently goes without it when the
	// kernel lacks it, which would leave all threads but one unfiltered.
	if api, err := seccomp.GetAPI(); err != nil || api < 2 {
		return false, fmt.Sprintf("seccomp cannot filter all threads at once (libseccomp API level %d, need 2 for TSYNC)", api)
	}
	return true, ""
}

// syscallKnown reports whether libseccomp knows the syscall name on some
// architecture.
func syscallKnown(name string) bool {
	_, err := seccomp.GetSyscallFromName(name)
	return err == nil
}

// loadSeccomp loads p's allow-list on all threads (TSYNC) and sets
// no_new_privs. Any call not on the list fails with EPERM.
func loadSeccomp(p *Policy) error {
	f, err := seccomp.NewFilter(seccomp.ActErrno.SetReturnCode(int16(unix.EPERM)))
	if err != nil {
		return fmt.Errorf("creating seccomp filter: %w", err)
	}
	defer f.Release()
	if err := f.SetNoNewPrivsBit(true); err != nil {
		return fmt.Errorf("setting no_new_privs: %w", err)
	}
	// A syscall of another ABI (int 0x80 on amd64) ends the process.
	if api, _ := seccomp.GetAPI(); api >= 3 {
		if err := f.SetBadArchAction(seccomp.ActKillProcess); err != nil {
			return fmt.Errorf("setting seccomp bad-arch action: %w", err)
		}
	}
	pid := uint64(os.Getpid())
	for _, r := range p.Syscalls {
		nr, err := seccomp.GetSyscallFromName(r.Name)
		if err != nil || nr < 0 {
			continue // not a syscall on this architecture
		}
		action := seccomp.ActAllow
		if r.Errno != 0 {
			action = seccomp.ActErrno.SetReturnCode(int16(r.Errno))
		}
		if len(r.When) == 0 {
			if err := f.AddRule(nr, action); err != nil {
				return fmt.Errorf("adding seccomp rule for %s: %w", r.Name, err)
			}
			continue
		}
		for _, alt := range r.When {
			conds := make([]seccomp.ScmpCondition, 0, len(alt))
			for _, c := range alt {
				cond, err := scmpCondition(c, pid)
				if err != nil {
					return fmt.Errorf("adding seccomp rule for %s: %w", r.Name, err)
				}
				conds = append(conds, cond)
			}
			if err := f.AddRuleConditional(nr, action, conds); err != nil {
				return fmt.Errorf("adding seccomp rule for %s (%v): %w", r.Name, alt, err)
			}
		}
	}
	if err := f.Load(); err != nil {
		return fmt.Errorf("loading seccomp filter: %w", err)
	}
	return nil
}

func scmpCondition(c ArgCmp, pid uint64) (seccomp.ScmpCondition, error) {
	switch c.Op {
	case CmpEqual:
		return seccomp.MakeCondition(c.Arg, seccomp.CompareEqual, c.Value)
	case CmpLess:
		return seccomp.MakeCondition(c.Arg, seccomp.CompareLess, c.Value)
	case CmpMaskedEqual:
		return seccomp.MakeCondition(c.Arg, seccomp.CompareMaskedEqual, c.Mask, c.Value)
	case CmpEqualOwnPID:
		return seccomp.MakeCondition(c.Arg, seccomp.CompareEqual, pid)
	}
	return seccomp.ScmpCondition{}, errors.New("unknown comparison")
}

// loadMPTCPFilter loads, on all threads, a filter that refuses
// Multipath TCP sockets (protocol 262 and above, high bits included),
// SCTP (132) and SMC (256) with EPERM and allows everything else: the
// stream protocols Landlock's TCP rules do not cover (its erratum 1). Go's
// net package then falls back from MPTCP to plain TCP, which Landlock
// covers.
func loadMPTCPFilter() error {
	f, err := seccomp.NewFilter(seccomp.ActAllow)
	if err != nil {
		return fmt.Errorf("creating seccomp filter: %w", err)
	}
	defer f.Release()
	if err := f.SetNoNewPrivsBit(true); err != nil {
		return fmt.Errorf("setting no_new_privs: %w", err)
	}
	nr, err := seccomp.GetSyscallFromName("socket")
	if err != nil {
		return fmt.Errorf("adding seccomp rule for socket: %w", err)
	}
	for _, c := range []struct {
		op    seccomp.ScmpCompareOp
		proto uint64
	}{{seccomp.CompareGreaterEqual, linuxIPProtoMPTCP}, {seccomp.CompareEqual, linuxIPProtoSCTP}, {seccomp.CompareEqual, linuxIPProtoSMC}} {
		cond, err := seccomp.MakeCondition(2, c.op, c.proto)
		if err != nil {
			return fmt.Errorf("adding seccomp rule for socket: %w", err)
		}
		if err := f.AddRuleConditional(nr, seccomp.ActErrno.SetReturnCode(int16(unix.EPERM)), []seccomp.ScmpCondition{cond}); err != nil {
			return fmt.Errorf("adding seccomp rule for socket: %w", err)
		}
	}
	if err := f.Load(); err != nil {
		return fmt.Errorf("loading seccomp filter: %w", err)
	}
	return nil
}
