// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"unsafe"

	"golang.org/x/sys/unix"
	"kernel.org/pub/linux/libs/security/libcap/psx"
)

// capState is a thread's five capability sets, as /proc/PID/status
// shows them (CapInh, CapPrm, CapEff, CapBnd, CapAmb).
type capState struct {
	Inh, Prm, Eff, Bnd, Amb capSet
}

// String shows the sets in /proc/PID/status' order, in hexadecimal.
func (c capState) String() string {
	return fmt.Sprintf("CapInh %x CapPrm %x CapEff %x CapBnd %x CapAmb %x",
		uint64(c.Inh), uint64(c.Prm), uint64(c.Eff), uint64(c.Bnd), uint64(c.Amb))
}

// parseCapField stores the value of one "CapXxx:\t%016x" status line in
// c, and reports whether the line was one of them.
func (c *capState) parseCapField(key, value string) (bool, error) {
	var dst *capSet
	switch key {
	case "CapInh":
		dst = &c.Inh
	case "CapPrm":
		dst = &c.Prm
	case "CapEff":
		dst = &c.Eff
	case "CapBnd":
		dst = &c.Bnd
	case "CapAmb":
		dst = &c.Amb
	default:
		return false, nil
	}
	v, err := strconv.ParseUint(strings.TrimSpace(value), 16, 64)
	if err != nil {
		return true, fmt.Errorf("parsing %s %q: %w", key, value, err)
	}
	*dst = capSet(v)
	return true, nil
}

// ownCapState reads the calling thread's capability sets. Every thread
// of a Go program has the same ones unless something changed one thread
// alone, which dropCapabilities never does.
func ownCapState() (capState, error) {
	var c capState
	f, err := os.Open("/proc/thread-self/status")
	if err != nil {
		return c, fmt.Errorf("reading capabilities: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, _ := strings.Cut(sc.Text(), ":")
		if _, err := c.parseCapField(k, v); err != nil {
			return c, fmt.Errorf("reading capabilities: %w", err)
		}
	}
	if err := sc.Err(); err != nil {
		return c, fmt.Errorf("reading capabilities: %w", err)
	}
	return c, nil
}

// dropCapabilities leaves every thread of the process with only the
// capabilities in keep, of those it has: effective and permitted become
// keep ∩ permitted, the bounding set keep ∩ bounding, and the
// inheritable and ambient sets empty. Each change runs on all threads at
// once (psx), since capabilities belong to threads, not to the process.
// It returns the sets every thread must show afterwards, and a note when
// the bounding set cannot be changed: that needs CAP_SETPCAP, which an
// unprivileged process lacks (and then has nothing to gain from the set:
// no_new_privs keeps exec from granting any of it).
func dropCapabilities(keep capSet) (want capState, note string, err error) {
	cur, err := ownCapState()
	if err != nil {
		return want, "", err
	}
	want = capState{Prm: cur.Prm & keep, Eff: cur.Prm & keep, Bnd: cur.Bnd & keep}
	if cur.Amb != 0 {
		if _, _, e := psx.Syscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0); e != 0 {
			return want, "", fmt.Errorf("clearing the ambient capability set: %w", e)
		}
	}
	if drop := cur.Bnd &^ keep; drop != 0 {
		if !cur.Eff.has(capSetPCAP) {
			want.Bnd = cur.Bnd
			note = fmt.Sprintf("capability bounding set left as it is (%016x): dropping from it needs CAP_SETPCAP, which this process lacks; "+
				"it holds %s, and no_new_privs keeps exec from gaining more", uint64(cur.Bnd), cur.Prm)
		} else {
			// Before capset below: it may remove CAP_SETPCAP itself.
			for i := range 64 {
				if !drop.has(i) {
					continue
				}
				if _, _, e := psx.Syscall3(unix.SYS_PRCTL, unix.PR_CAPBSET_DROP, uintptr(i), 0); e != 0 {
					return want, "", fmt.Errorf("dropping %s from the bounding set: %w", capSet(1)<<i, e)
				}
			}
		}
	}
	if cur.Prm != want.Prm || cur.Eff != want.Eff || cur.Inh != 0 {
		hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
		var data [2]unix.CapUserData
		for i, shift := range []uint{0, 32} {
			data[i].Effective = uint32(want.Eff >> shift)
			data[i].Permitted = uint32(want.Prm >> shift)
		}
		if _, _, e := psx.Syscall3(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&hdr)), uintptr(unsafe.Pointer(&data[0])), 0); e != 0 {
			return want, "", fmt.Errorf("setting capabilities to %s: %w", want.Prm, e)
		}
	}
	return want, note, nil
}

// checkCaps reports how a thread's sets differ from want, or nil.
func checkCaps(got, want capState) error {
	if got == want {
		return nil
	}
	return errors.New(got.String() + ", want " + want.String())
}

// currentCaps describes this process's capabilities now, for explain.
func currentCaps() string {
	c, err := ownCapState()
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	return fmt.Sprintf("uid %d, effective %s; bounding set %016x", os.Geteuid(), capSetSummary(c.Eff), uint64(c.Bnd))
}

// capSetSummary names a set, or counts it when it is large.
func capSetSummary(s capSet) string {
	n := 0
	for i := range 64 {
		if s.has(i) {
			n++
		}
	}
	if n > 4 {
		return fmt.Sprintf("%d capabilities (%016x)", n, uint64(s))
	}
	return s.String()
}
