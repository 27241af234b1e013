// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"fmt"
	"syscall"
)

// The seccomp allow-list is built from the groups below, chosen by what
// the enabled tools declare. The lists were taken from the Go runtime's
// own syscall table (runtime/sys_linux_*.s), the syscall, os, net and
// internal/poll packages, glibc's thread start-up (cgo builds), and
// strace runs of a server-like workload; the tests run that workload
// under the filter. Names that do not exist on the running architecture
// (open on arm64, for example) are skipped when the filter is built.

// syscallGroup is a named set of syscalls allowed without conditions.
type syscallGroup struct {
	name  string
	why   string
	calls []string
}

// runtimeGroup is what every Go program needs: memory, threads, signals,
// time, the network poller, and glibc's thread start-up under cgo.
var runtimeGroup = syscallGroup{
	name: "runtime",
	why:  "Go runtime (memory, threads, signals, timers, poller)",
	calls: []string{
		"read", "write", "readv", "writev", "close",
		"munmap", "mremap", "madvise", "mincore", "brk",
		"futex", "set_robust_list", "rseq",
		"rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "sigaltstack",
		"exit", "exit_group", "gettid", "getpid", "getppid",
		"nanosleep", "clock_nanosleep", "clock_gettime", "clock_getres", "gettimeofday", "time",
		"setitimer", "timer_create", "timer_settime", "timer_delete",
		"sched_yield", "sched_getaffinity", "getcpu", "restart_syscall",
		"epoll_create", "epoll_create1", "epoll_ctl", "epoll_wait", "epoll_pwait", "epoll_pwait2",
		"eventfd2", "pipe", "pipe2", "poll", "ppoll",
		"fcntl", "dup", "dup2", "dup3",
		"getrandom", "uname", "arch_prctl",
		"getuid", "geteuid", "getgid", "getegid", "getgroups", "getresuid", "getresgid",
		"getrlimit", "getrusage", "wait4", "waitid",
	},
}

// filesGroup covers reading, listing and writing files. Which files is
// Landlock's business. chmod, chown, utimes and xattrs are left out on
// purpose: Landlock does not restrict them, so with them a root process
// could change /etc/passwd's mode through a read-only descriptor.
var filesGroup = syscallGroup{
	name: "files",
	why:  "files (which ones is Landlock's business)",
	calls: []string{
		"openat", "openat2", "open", "creat",
		"newfstatat", "fstat", "stat", "lstat", "statx", "fstatfs", "statfs",
		"getdents64", "lseek", "pread64", "pwrite64", "preadv", "pwritev",
		"readlinkat", "readlink", "faccessat", "faccessat2", "access", "getcwd",
		"fsync", "fdatasync", "ftruncate", "fallocate", "flock",
		"renameat", "renameat2", "rename", "unlinkat", "unlink", "rmdir", "mkdirat", "mkdir",
		"copy_file_range", "sendfile", "splice",
	},
}

// netGroup covers sockets once created. Creating them is conditional
// (see socketRules); which ports is Landlock's business.
var netGroup = syscallGroup{
	name: "net",
	why:  "network (which TCP ports is Landlock's business)",
	calls: []string{
		"bind", "listen", "accept", "accept4", "connect",
		"getsockname", "getpeername", "setsockopt", "getsockopt",
		"sendto", "recvfrom", "sendmsg", "recvmsg", "sendmmsg", "recvmmsg", "shutdown",
	},
}

// execGroup is added when an enabled tool executes a binary: the exec
// calls themselves, and what a dynamically linked C program needs at
// start-up, since the child inherits the filter.
var execGroup = syscallGroup{
	name: "exec",
	why:  "exec of declared binaries (and their start-up, since children inherit the filter)",
	calls: []string{
		"execve", "execveat", "vfork", "set_tid_address",
		"pidfd_open", "pidfd_send_signal", "tkill",
		"setpgid", "getpgid", "getpgrp", "setsid", "getsid",
		"chdir", "fchdir", "umask", "sysinfo", "fadvise64",
		"rt_sigsuspend", "rt_sigtimedwait", "pause", "alarm",
	},
}

// alwaysDenied are refused even when a tool declares them: Compute fails
// for such a tool. The first part is the list; the rest are
// further calls that undo or bypass the sandbox or touch the kernel
// itself. execve and execveat are refused unless a tool needs exec.
var alwaysDenied = []string{
	"ptrace", "process_vm_readv", "process_vm_writev",
	"mount", "umount2", "pivot_root", "chroot", "unshare", "setns",
	"bpf", "keyctl", "add_key", "kexec_load", "kexec_file_load",
	"init_module", "finit_module", "perf_event_open", "userfaultfd",
	// Beyond the list.
	"delete_module", "request_key", "open_by_handle_at", "name_to_handle_at",
	"io_uring_setup", "io_uring_enter", "io_uring_register",
	"fsopen", "fsconfig", "fsmount", "fspick", "move_mount", "open_tree", "mount_setattr",
	"reboot", "swapon", "swapoff", "iopl", "ioperm", "acct",
	"settimeofday", "clock_settime", "clock_adjtime", "adjtimex",
}

// Linux constants used in argument conditions. They are the same on
// amd64 and arm64 (asm-generic), which are the architectures TailOps
// ships for.
const (
	linuxAFUnix       = 1
	linuxAFInet       = 2
	linuxAFInet6      = 10
	linuxAFNetlink    = 16
	linuxIPProtoMPTCP = 262
	linuxIPProtoICMP  = 1
	linuxIPProtoTCP   = 6
	linuxIPProtoUDP   = 17
	linuxIPProtoICMP6 = 58
	linuxIPProtoSCTP  = 132
	linuxIPProtoSMC   = 256
	linuxSockStream   = 1
	linuxSockDgram    = 2
	linuxSockTypeMask = 0xf
	linuxProtExec     = 0x4
	// CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET.
	linuxCloneNamespaces = 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x10000000 | 0x20000000 | 0x40000000
)

// allowedIoctls are the ioctl requests the runtime, glibc and the
// standard library issue: FIONREAD, FIONBIO, FIOCLEX, FIONCLEX, TCGETS
// (isatty) and TIOCGWINSZ. TIOCSTI and everything else stay refused.
var allowedIoctls = []struct {
	name string
	req  uint64
}{
	{"TCGETS", 0x5401}, {"TIOCGWINSZ", 0x5413}, {"FIONREAD", 0x541b},
	{"FIONBIO", 0x5421}, {"FIONCLEX", 0x5450}, {"FIOCLEX", 0x5451},
}

// allowedPrctls are the prctl options the runtime, the standard library
// and glibc use: naming memory (PR_SET_VMA), the parent-death signal and
// thread names (os/exec, glibc), and reading the sandbox state. Options
// that change the process (PR_SET_MM, PR_SET_DUMPABLE, PR_SET_PTRACER,
// PR_CAP_AMBIENT, PR_SET_SECUREBITS...) stay refused.
var allowedPrctls = []struct {
	name string
	opt  uint64
}{
	{"PR_SET_PDEATHSIG", 1}, {"PR_GET_DUMPABLE", 3}, {"PR_SET_NAME", 15}, {"PR_GET_NAME", 16},
	{"PR_GET_SECCOMP", 21}, {"PR_CAPBSET_READ", 23}, {"PR_SET_NO_NEW_PRIVS", 38}, {"PR_GET_NO_NEW_PRIVS", 39},
	{"PR_SET_VMA", 0x53564d41},
}

// conditionalRules returns the calls allowed only with certain
// arguments. With exec enabled, the conditions that would break a child
// program (no PROT_EXEC, signals only to ourselves, rlimits only of
// ourselves) are dropped. Netlink sockets may be opened only for the
// protocols in netlink.
func conditionalRules(exec bool, netlink []NamedRule) []SyscallRule {
	noMPTCP := ArgCmp{Arg: 2, Op: CmpLess, Value: linuxIPProtoMPTCP}
	socket := [][]ArgCmp{{{Arg: 0, Op: CmpEqual, Value: linuxAFUnix}, noMPTCP}}
	netlinkWhy := "no netlink"
	for i, nl := range netlink {
		socket = append(socket, []ArgCmp{{Arg: 0, Op: CmpEqual, Value: linuxAFNetlink}, {Arg: 2, Op: CmpEqual, Value: uint64(nl.Number)}})
		if i == 0 {
			netlinkWhy = "netlink only"
		} else {
			netlinkWhy += ","
		}
		netlinkWhy += fmt.Sprintf(" %s (%d)", nl.Name, nl.Number)
	}
	// Exactly the protocols Landlock's TCP rules cover, or that need no
	// cover: a stream socket is TCP (0 or IPPROTO_TCP), never SCTP, SMC
	// or MPTCP, which Landlock leaves alone (its erratum 1: only real TCP
	// sockets get the TCP access rights); a datagram socket UDP or ICMP
	// (unprivileged ping).
	for _, af := range []uint64{linuxAFInet, linuxAFInet6} {
		for _, tp := range []struct {
			typ    uint64
			protos []uint64
		}{
			{linuxSockStream, []uint64{0, linuxIPProtoTCP}},
			{linuxSockDgram, []uint64{0, linuxIPProtoUDP, linuxIPProtoICMP, linuxIPProtoICMP6}},
		} {
			for _, proto := range tp.protos {
				socket = append(socket, []ArgCmp{
					{Arg: 0, Op: CmpEqual, Value: af},
					// The type's low bits; SOCK_NONBLOCK and SOCK_CLOEXEC above them.
					{Arg: 1, Op: CmpMaskedEqual, Mask: linuxSockTypeMask, Value: tp.typ},
					{Arg: 2, Op: CmpEqual, Value: proto},
				})
			}
		}
	}
	var prctl [][]ArgCmp
	prctlWhy := "only"
	for i, o := range allowedPrctls {
		prctl = append(prctl, []ArgCmp{{Arg: 0, Op: CmpEqual, Value: o.opt}})
		if i > 0 {
			prctlWhy += ","
		}
		prctlWhy += " " + o.name
	}
	var ioctl [][]ArgCmp
	ioctlWhy := "only"
	for i, r := range allowedIoctls {
		ioctl = append(ioctl, []ArgCmp{{Arg: 1, Op: CmpEqual, Value: r.req}})
		if i > 0 {
			ioctlWhy += ","
		}
		ioctlWhy += " " + r.name
	}
	rules := []SyscallRule{
		{Name: "socket", When: socket,
			Why: "unix, and inet/inet6 stream sockets of TCP and datagram sockets of UDP or ICMP only (no raw IP, no packet sockets); " +
				"so MPTCP (262), SCTP (132) and SMC (256), which Landlock's TCP rules do not cover, are refused; " +
				netlinkWhy + " (the protocols the tools and the server declare)"},
		{Name: "socketpair", When: [][]ArgCmp{{{Arg: 0, Op: CmpEqual, Value: linuxAFUnix}}},
			Why: "unix only"},
		{Name: "clone", When: [][]ArgCmp{{{Arg: 0, Op: CmpMaskedEqual, Mask: linuxCloneNamespaces, Value: 0}}},
			Why: "threads and fork without new namespaces"},
		{Name: "clone3", Errno: syscall.ENOSYS,
			Why: "its flags are in memory, where seccomp cannot see them; glibc and Go fall back to clone"},
		{Name: "ioctl", When: ioctl, Why: ioctlWhy},
		{Name: "prctl", When: prctl, Why: prctlWhy},
	}
	if exec {
		return append(rules,
			SyscallRule{Name: "mmap", Why: "any protection (exec: children load libraries)"},
			SyscallRule{Name: "mprotect", Why: "any protection (exec: children load libraries)"},
			SyscallRule{Name: "kill", Why: "any process (exec: signalling children); Landlock ABI 6 scopes signals to the sandbox"},
			SyscallRule{Name: "tgkill", Why: "any process (exec)"},
			SyscallRule{Name: "prlimit64", Why: "any process (exec)"},
		)
	}
	noExec := [][]ArgCmp{{{Arg: 2, Op: CmpMaskedEqual, Mask: linuxProtExec, Value: 0}}}
	self := [][]ArgCmp{{{Arg: 0, Op: CmpEqualOwnPID}}}
	return append(rules,
		SyscallRule{Name: "mmap", When: noExec, Why: "without PROT_EXEC (no new code after start)"},
		SyscallRule{Name: "mprotect", When: noExec, Why: "without PROT_EXEC (no new code after start)"},
		SyscallRule{Name: "kill", When: self, Why: "own process only"},
		SyscallRule{Name: "tgkill", When: self, Why: "own threads only"},
		SyscallRule{Name: "prlimit64", When: [][]ArgCmp{{{Arg: 0, Op: CmpEqual, Value: 0}}}, Why: "own limits only (pid 0)"},
	)
}
