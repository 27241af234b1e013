// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Check applies p to the process, then tries what p must refuse and
// prints one row per attempt: reading each file the sandbox must never
// expose (p.NeverExposed: /etc/shadow, SSH host keys...) and a file
// outside every root, writing outside the state directory, exec of /bin/sh,
// ptrace, mount, unshare and the other always-denied calls, netlink
// protocols no tool declares, a signal to a process outside the sandbox
// (one it started before the restriction, not PID 1, which in a
// container is the check itself), binding another port (with MPTCP and
// without), connecting to a port that is not allowed, and, started as
// root, reading another user's file, which needs a capability only file
// tools keep. It tries the file, exec and namespace attacks from several
// OS threads: one locked before the restriction, fresh goroutines locked
// after it, and a thread created after it. It also shows what must keep
// working (writing in the state directory, binding the serving port,
// connecting where the policy allows, the declared netlink protocols),
// and every thread's Seccomp, NoNewPrivs and capability sets. ok is false if anything the policy refuses succeeded or
// anything it allows failed. Like Apply, Check is irreversible: run it
// in a process of its own (`tailops sandbox check`).
func Check(ctx context.Context, p *Policy, w io.Writer) (ok bool, err error) {
	c, err := prepareCheck(ctx, p)
	if err != nil {
		return false, fmt.Errorf("checking sandbox: %w", err)
	}
	defer c.close()

	rep, err := Apply(p)
	if err != nil {
		return false, fmt.Errorf("checking sandbox: %w", err)
	}
	c.caps = rep.caps
	fmt.Fprintf(w, "check process: pid %d, uid %d; signal target: pid %d (started before the restriction)\n",
		os.Getpid(), os.Geteuid(), c.target.pid())
	fmt.Fprintf(w, "applied: %s\n", rep)
	for _, s := range rep.Notes {
		fmt.Fprintf(w, "  note: %s\n", s)
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(w, "  skipped: %s\n", s)
	}
	for _, s := range rep.NotEnforced {
		fmt.Fprintf(w, "  not enforced by this kernel: %s\n", s)
	}

	c.attack(ctx)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "THREAD\tATTEMPT\tEXPECTED\tGOT\tERRNO\t")
	failed := 0
	for _, r := range c.rows {
		mark := ""
		if !r.ok {
			mark = "FAIL"
			failed++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.thread, r.attempt, r.expect, r.got, r.errno, mark)
	}
	if err := tw.Flush(); err != nil {
		return false, fmt.Errorf("checking sandbox: writing table: %w", err)
	}
	if failed > 0 {
		fmt.Fprintf(w, "sandbox check FAILED: %d of %d attempts did not behave as the policy says\n", failed, len(c.rows))
		return false, nil
	}
	fmt.Fprintf(w, "sandbox check passed: %d attempts behaved as the policy says\n", len(c.rows))
	return true, nil
}

const (
	expectRefused = "refused"
	expectAllowed = "allowed"
)

type checkRow struct {
	thread, attempt, expect, got, errno string
	ok                                  bool
}

// checker holds what must exist before the restriction: a thread, a
// listener on a port the policy refuses to connect to, a free port to
// try binding, and the targets of the file attempts.
type checker struct {
	p    *Policy
	rows []checkRow

	pre        *worker
	tidsBefore []int

	forbidden   net.Listener  // connect target the policy refuses
	otherPort   int           // free port not in Bind
	outsideFile string        // an existing file no rule covers
	outsideDir  string        // a directory no write rule covers
	target      *signalTarget // a process outside the sandbox
	othersFile  string        // another user's 0600 file in a writable path; empty unless root
	caps        *capState     // every thread's capability sets after Apply; nil if not dropped
}

func prepareCheck(ctx context.Context, p *Policy) (_ *checker, err error) {
	c := &checker{p: p}
	defer func() {
		if err != nil {
			c.close()
		}
	}()
	if c.target, err = startSignalTarget(); err != nil {
		return nil, err
	}
	c.pre = startWorker("pre-locked")
	ts, err := readThreads()
	if err != nil {
		return nil, err
	}
	for _, t := range ts {
		c.tidsBefore = append(c.tidsBefore, t.TID)
	}
	lc := ListenConfig()
	for range 8 {
		ln, err := lc.Listen(ctx, "tcp4", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("opening the connect target: %w", err)
		}
		if !c.portAllowed(p.Connect, listenerPort(ln)) {
			c.forbidden = ln
			break
		}
		ln.Close()
	}
	for range 8 {
		ln, err := lc.Listen(ctx, "tcp4", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("finding a free port: %w", err)
		}
		port := listenerPort(ln)
		ln.Close()
		if !c.portAllowed(p.Bind, port) {
			c.otherPort = port
			break
		}
	}
	c.outsideFile = c.pickOutsideFile()
	c.outsideDir = c.pickOutsideDir()
	c.othersFile = c.makeOthersFile()
	return c, nil
}

func (c *checker) close() {
	if c.pre != nil {
		c.pre.stop()
	}
	if c.target != nil {
		c.target.stop()
	}
	if c.forbidden != nil {
		c.forbidden.Close()
	}
	if c.othersFile != "" {
		os.Remove(c.othersFile)
	}
}

// othersUID owns the file of makeOthersFile: nobody.
const othersUID = 65534

// makeOthersFile creates, when this process may (root: it chowns), a file
// of another user with mode 0600 in the first writable path: reading it
// then needs CAP_DAC_READ_SEARCH (or CAP_DAC_OVERRIDE), and Landlock
// allows it, so the capability sets alone decide.
func (c *checker) makeOthersFile() string {
	for _, r := range c.p.Paths {
		if r.Access&AccessWrite == 0 {
			continue
		}
		if fi, err := os.Stat(r.Path); err != nil || !fi.IsDir() {
			continue
		}
		f, err := os.CreateTemp(r.Path, ".tailops-check-others-*")
		if err != nil {
			continue
		}
		name := f.Name()
		f.WriteString("another user's file\n")
		f.Close()
		if os.Chmod(name, 0o600) != nil || os.Chown(name, othersUID, othersUID) != nil {
			os.Remove(name)
			return ""
		}
		return name
	}
	return ""
}

func (c *checker) portAllowed(rules []PortRule, port int) bool {
	return slices.ContainsFunc(rules, func(r PortRule) bool { return int(r.Port) == port })
}

func listenerPort(ln net.Listener) int {
	return ln.Addr().(*net.TCPAddr).Port
}

// covered reports whether a rule with any of the rights in a covers path.
func (c *checker) covered(path string, a Access) bool {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		real = path
	}
	for _, r := range c.p.Paths {
		if r.Access&a == 0 {
			continue
		}
		rp, err := filepath.EvalSymlinks(r.Path)
		if err != nil {
			rp = r.Path
		}
		if beneath(rp, real) {
			return true
		}
	}
	return false
}

func (c *checker) pickOutsideFile() string {
	cands := []string{"/etc/hostname", "/etc/machine-id", "/etc/fstab", "/etc/issue", "/etc/shells"}
	if exe, err := os.Executable(); err == nil {
		cands = append(cands, exe)
	}
	for _, f := range cands {
		if fi, err := os.Stat(f); err == nil && fi.Mode().IsRegular() && !c.covered(f, AccessRead) {
			return f
		}
	}
	return ""
}

// pickOutsideDir returns a directory outside every write rule, for the
// "write outside the state dir" attempt.
//
// The directory must be writable before the restriction: on a read-only
// root (the appliance container), a write there fails with EROFS before
// Landlock is asked, which proves nothing about the sandbox. /dev/shm is
// a last resort: a tmpfs that is writable in most containers.
func (c *checker) pickOutsideDir() string {
	for _, d := range []string{os.TempDir(), "/var/tmp", "/tmp", "/dev/shm", "/"} {
		if fi, err := os.Stat(d); err != nil || !fi.IsDir() || c.covered(d, AccessWrite) {
			continue
		}
		if f, err := os.CreateTemp(d, ".tailops-check-*"); err == nil {
			f.Close()
			os.Remove(f.Name())
			return d
		}
	}
	return ""
}

// attack runs every attempt after the restriction.
func (c *checker) attack(ctx context.Context) {
	threads := []*worker{c.pre}
	fresh, newer := c.freshWorkers()
	defer func() {
		for _, w := range append(fresh, newer...) {
			w.stop()
		}
	}()
	threads = append(threads, fresh...)
	threads = append(threads, newer...)
	if len(newer) == 0 {
		c.rows = append(c.rows, checkRow{thread: "-", attempt: "get a thread created after the restriction", expect: "a new thread", got: "none in 24 tries", ok: true})
	}
	for _, t := range threads {
		t.run(func() { c.threadAttacks(t.label()) })
	}
	c.threadAttacks("unlocked goroutine")
	nt := threads[len(threads)-1]
	nt.run(func() { c.netAttempts(ctx, nt.label()) })
	c.syscallAttacks("unlocked goroutine")
	c.threadRows()
}

// freshWorkers locks fresh goroutines to threads after the restriction
// until it has one on a thread that existed before (fresh) and one on a
// thread created after (newer); the runtime makes new threads once the
// idle ones are all locked.
func (c *checker) freshWorkers() (fresh, newer []*worker) {
	var spare []*worker
	for range 24 {
		w := startWorker("fresh-locked")
		switch {
		case !slices.Contains(c.tidsBefore, w.tid) && len(newer) == 0:
			w.name = "new-thread"
			newer = append(newer, w)
		case slices.Contains(c.tidsBefore, w.tid) && len(fresh) == 0:
			fresh = append(fresh, w)
		default:
			spare = append(spare, w)
		}
		if len(fresh) > 0 && len(newer) > 0 {
			break
		}
	}
	for _, w := range spare {
		w.stop()
	}
	return fresh, newer
}

// record classifies err and appends a row: nil is allowed, EPERM and
// EACCES are refused, any other errno means the kernel ran the call.
func (c *checker) record(thread, attempt, expect string, err error, tolerate ...syscall.Errno) {
	r := checkRow{thread: thread, attempt: attempt, expect: expect}
	var errno syscall.Errno
	switch {
	case err == nil:
		r.got = expectAllowed
	case errors.As(err, &errno):
		r.errno = unix.ErrnoName(errno)
		if errno == unix.EPERM || errno == unix.EACCES {
			r.got = expectRefused
		} else if slices.Contains(tolerate, errno) {
			r.got = expectAllowed
		} else {
			r.got = "not refused"
		}
	default:
		r.got = "error: " + err.Error()
	}
	r.ok = r.got == expect
	c.rows = append(c.rows, r)
}

func (c *checker) skip(thread, attempt, why string) {
	c.rows = append(c.rows, checkRow{thread: thread, attempt: attempt, expect: "-", got: "skipped: " + why, ok: true})
}

// threadAttacks are the attempts repeated on every thread.
func (c *checker) threadAttacks(thread string) {
	for _, f := range c.p.NeverExposed {
		_, err := os.ReadFile(f)
		c.record(thread, "read "+f, expectRefused, err)
	}
	if len(c.p.NeverExposed) == 0 {
		c.skip(thread, "read files the sandbox must never expose (/etc/shadow...)", "none exists")
	}
	if c.outsideFile != "" {
		_, err := os.ReadFile(c.outsideFile)
		c.record(thread, "read "+c.outsideFile+" (outside every rule)", expectRefused, err)
	} else {
		c.skip(thread, "read a file outside every rule", "found none")
	}
	if c.outsideDir != "" {
		name := filepath.Join(c.outsideDir, fmt.Sprintf(".tailops-sandbox-check-%d-%d", os.Getpid(), unix.Gettid()))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err == nil {
			f.Close()
			os.Remove(name)
		}
		c.record(thread, "create "+name, expectRefused, err)
	} else {
		c.skip(thread, "write outside the writable paths", "found no directory")
	}
	if c.othersFile != "" && c.caps != nil {
		expect := expectRefused
		if c.caps.Eff.has(capDACReadSearch) || c.caps.Eff.has(capDACOverride) {
			expect = expectAllowed
		}
		_, err := os.ReadFile(c.othersFile)
		c.record(thread, fmt.Sprintf("read %s (uid %d, mode 0600: needs CAP_DAC_READ_SEARCH)", c.othersFile, othersUID), expect, err)
	}
	expectSh := expectRefused
	if c.p.Exec && slices.ContainsFunc(c.p.ExecBinaries, func(b string) bool { return sameFile(b, "/bin/sh") }) {
		expectSh = expectAllowed
	}
	c.record(thread, "exec /bin/sh", expectSh, forkExec("/bin/sh", []string{"sh", "-c", "exit 0"}, nil))
	// A pid beyond PID_MAX_LIMIT: if ptrace ran, it would fail with ESRCH.
	_, _, errno := unix.Syscall6(unix.SYS_PTRACE, unix.PTRACE_PEEKUSR, 0x7ffffff0, 0, 0, 0, 0)
	c.record(thread, "ptrace(PTRACE_PEEKUSER)", expectRefused, errnoErr(errno))
	// A missing mount point: if mount ran, it would fail with ENOENT.
	c.record(thread, "mount tmpfs", expectRefused, unix.Mount("tailops-check", "/nonexistent-tailops-check", "tmpfs", 0, ""))
	// On a locked worker the thread ends with it, so even a wrongly
	// allowed unshare changes no thread that lives on.
	if strings.HasPrefix(thread, "unlocked") {
		return
	}
	c.record(thread, "unshare(CLONE_NEWUTS)", expectRefused, unix.Unshare(unix.CLONE_NEWUTS))
}

// syscallAttacks try the rest of the always-denied calls, with
// arguments under which they would do nothing if they ran.
func (c *checker) syscallAttacks(thread string) {
	raw := func(name string, nr uintptr, args ...uintptr) {
		var a [6]uintptr
		copy(a[:], args)
		_, _, errno := unix.Syscall6(nr, a[0], a[1], a[2], a[3], a[4], a[5])
		c.record(thread, name, expectRefused, errnoErr(errno))
	}
	empty := []byte{0}
	emptyp := uintptr(unsafe.Pointer(&empty[0]))
	missing := []byte("/nonexistent-tailops-check\x00")
	missingp := uintptr(unsafe.Pointer(&missing[0]))
	var attr [128]byte
	raw("process_vm_readv", unix.SYS_PROCESS_VM_READV, 0x7ffffff0)
	raw("process_vm_writev", unix.SYS_PROCESS_VM_WRITEV, 0x7ffffff0)
	raw("umount2", unix.SYS_UMOUNT2, missingp)
	raw("pivot_root", unix.SYS_PIVOT_ROOT, missingp, missingp)
	raw("chroot", unix.SYS_CHROOT, missingp)
	raw("setns", unix.SYS_SETNS, ^uintptr(0))
	raw("bpf(BPF_MAP_CREATE, zeroed attr)", unix.SYS_BPF, 0, uintptr(unsafe.Pointer(&attr[0])), uintptr(len(attr)))
	raw("keyctl(KEYCTL_GET_KEYRING_ID, 0)", unix.SYS_KEYCTL, 0, 0)
	raw("add_key(NULL type)", unix.SYS_ADD_KEY)
	raw("kexec_load(invalid flags)", unix.SYS_KEXEC_LOAD, 0, 0, 0, 0x8000)
	raw("kexec_file_load(fd -1)", unix.SYS_KEXEC_FILE_LOAD, ^uintptr(0), ^uintptr(0), 0, 0, 0)
	raw("init_module(empty)", unix.SYS_INIT_MODULE, 0, 0, emptyp)
	raw("finit_module(fd -1)", unix.SYS_FINIT_MODULE, ^uintptr(0), emptyp, 0)
	raw("perf_event_open(NULL)", unix.SYS_PERF_EVENT_OPEN, 0, 0, ^uintptr(0), ^uintptr(0), 0)
	raw("userfaultfd(invalid flags)", unix.SYS_USERFAULTFD, 0xffff)
	raw("io_uring_setup(0 entries)", unix.SYS_IO_URING_SETUP, 0, 0)
	raw("open_by_handle_at(fd -1)", unix.SYS_OPEN_BY_HANDLE_AT, ^uintptr(0), 0, 0)
	raw("ioctl(-1, TIOCSTI)", unix.SYS_IOCTL, ^uintptr(0), unix.TIOCSTI, emptyp)
	if fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0); err == nil {
		unix.Close(fd)
		c.record(thread, "socket(AF_PACKET, SOCK_RAW)", expectRefused, nil)
	} else {
		c.record(thread, "socket(AF_PACKET, SOCK_RAW)", expectRefused, err)
	}
	if fd, err := unix.Socket(unix.AF_INET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.IPPROTO_TCP); err == nil {
		unix.Close(fd)
		c.record(thread, "socket(AF_INET, SOCK_RAW, IPPROTO_TCP)", expectRefused, nil)
	} else {
		c.record(thread, "socket(AF_INET, SOCK_RAW, IPPROTO_TCP)", expectRefused, err)
	}
	c.record(thread, "prctl(PR_SET_DUMPABLE, 1)", expectRefused, unix.Prctl(unix.PR_SET_DUMPABLE, 1, 0, 0, 0))
	if fd, err := unix.Open("/etc/passwd", unix.O_RDONLY|unix.O_CLOEXEC, 0); err == nil {
		var st unix.Stat_t
		if err := unix.Fstat(fd, &st); err == nil {
			// The same mode again: harmless if it ran.
			c.record(thread, "fchmod /etc/passwd through a read-only fd", expectRefused, unix.Fchmod(fd, st.Mode&0o7777))
		}
		unix.Close(fd)
	}
	if !c.p.Exec {
		b, err := unix.Mmap(-1, 0, 4096, unix.PROT_READ|unix.PROT_EXEC, unix.MAP_PRIVATE|unix.MAP_ANON)
		if err == nil {
			unix.Munmap(b)
		}
		c.record(thread, "mmap(PROT_EXEC)", expectRefused, err)
	}
	if !c.p.Exec || c.p.KernelLandlockABI >= 6 {
		c.record(thread, fmt.Sprintf("kill(%d, 0) (a process outside the sandbox)", c.target.pid()), expectRefused, unix.Kill(c.target.pid(), 0))
		if os.Getpid() == 1 {
			c.skip(thread, "kill(1, 0)", "this process is PID 1 (a container)")
		} else {
			c.record(thread, "kill(1, 0)", expectRefused, unix.Kill(1, 0))
		}
	}
	c.netlinkAttempts(thread)
	c.record(thread, "fork into a new user namespace", expectRefused,
		forkExec("/bin/true", []string{"true"}, &syscall.SysProcAttr{Cloneflags: unix.CLONE_NEWUSER}))
}

// checkedNetlink are the netlink protocols the check tries to open:
// those the policy allows must open, the others must be refused. Audit,
// uevents, netfilter, socket diagnostics and generic netlink are what a
// compromised process would want.
var checkedNetlink = []string{"NETLINK_ROUTE", "NETLINK_SOCK_DIAG", "NETLINK_AUDIT", "NETLINK_NETFILTER",
	"NETLINK_KOBJECT_UEVENT", "NETLINK_GENERIC", "NETLINK_XFRM"}

// netlinkAttempts opens a netlink socket of each checkedNetlink protocol.
func (c *checker) netlinkAttempts(thread string) {
	for _, name := range checkedNetlink {
		expect := expectRefused
		if slices.ContainsFunc(c.p.Netlink, func(r NamedRule) bool { return r.Name == name }) {
			expect = expectAllowed
		}
		fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, netlinkProtocols[name])
		if err == nil {
			unix.Close(fd)
		}
		c.record(thread, fmt.Sprintf("socket(AF_NETLINK, SOCK_RAW, %s)", name), expect, err)
	}
}

// netAttempts bind and connect on loopback.
func (c *checker) netAttempts(ctx context.Context, thread string) {
	lc := ListenConfig()
	if c.otherPort != 0 {
		addr := "127.0.0.1:" + strconv.Itoa(c.otherPort)
		ln, err := net.Listen("tcp4", addr) // Go's default: MPTCP first
		closeListener(ln)
		c.record(thread, "bind "+addr+" (net.Listen, MPTCP default)", expectRefused, err)
		ln, err = lc.Listen(ctx, "tcp4", addr)
		closeListener(ln)
		c.record(thread, "bind "+addr+" (ListenConfig, plain TCP)", expectRefused, err)
		c.record(thread, "bind "+addr+" (raw MPTCP socket)", expectRefused, bindRaw(unix.IPPROTO_MPTCP, c.otherPort))
	}
	ln, err := lc.Listen(ctx, "tcp4", "127.0.0.1:0")
	closeListener(ln)
	c.record(thread, "bind 127.0.0.1:0 (ephemeral port)", expectRefused, err)

	if len(c.p.Bind) > 0 {
		port := int(c.p.Bind[0].Port)
		addr := "127.0.0.1:" + strconv.Itoa(port)
		// In use means the bind got past Landlock: the server may be up.
		ln, err := net.Listen("tcp4", addr)
		closeListener(ln)
		c.record(thread, "bind "+addr+" (serving port, net.Listen: MPTCP refused, falls back to TCP)", expectAllowed, err, unix.EADDRINUSE)
		ln, err = lc.Listen(ctx, "tcp4", addr)
		c.record(thread, "bind "+addr+" (serving port, ListenConfig)", expectAllowed, err, unix.EADDRINUSE)
		expect := expectRefused
		if c.p.ConnectAny || c.portAllowed(c.p.Connect, port) {
			expect = expectAllowed
		}
		c.record(thread, "connect "+addr+" (serving port)", expect, dial(ctx, addr))
		closeListener(ln)
	}
	if c.forbidden != nil {
		addr := c.forbidden.Addr().String()
		expect := expectRefused
		if c.p.ConnectAny {
			expect = expectAllowed
		}
		c.record(thread, "connect "+addr+" (not an allowed port)", expect, dial(ctx, addr))
	}
}

// threadRows shows every thread's seccomp mode and no_new_privs.
func (c *checker) threadRows() {
	ts, err := readThreads()
	if err != nil {
		c.record("all", "read /proc/self/task/*/status", expectAllowed, err)
		return
	}
	for _, t := range ts {
		got := fmt.Sprintf("Seccomp: %s, NoNewPrivs: %s", t.Seccomp, t.NoNewPrivs)
		c.rows = append(c.rows, checkRow{
			thread: "tid " + strconv.Itoa(t.TID), attempt: "thread status",
			expect: "Seccomp: 2, NoNewPrivs: 1", got: got, ok: t.Seccomp == "2" && t.NoNewPrivs == "1",
		})
		if c.caps == nil {
			c.rows = append(c.rows, checkRow{thread: "tid " + strconv.Itoa(t.TID), attempt: "capabilities",
				expect: "-", got: "skipped: not dropped", ok: c.p.Mode == ModeBestEffort})
			continue
		}
		c.rows = append(c.rows, checkRow{
			thread: "tid " + strconv.Itoa(t.TID), attempt: "capabilities",
			expect: c.caps.String(), got: t.Caps.String(), ok: t.Caps == *c.caps,
		})
	}
}

func closeListener(ln net.Listener) {
	if ln != nil {
		ln.Close()
	}
}

func dial(ctx context.Context, addr string) error {
	d := net.Dialer{Timeout: 3 * time.Second}
	conn, err := d.DialContext(ctx, "tcp4", addr)
	if err == nil {
		conn.Close()
	}
	return err
}

// bindRaw creates an AF_INET stream socket with proto and binds it to
// 127.0.0.1:port.
func bindRaw(proto, port int) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, proto)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Bind(fd, &unix.SockaddrInet4{Port: port, Addr: [4]byte{127, 0, 0, 1}})
}

// forkExec starts path and waits for it; the error is the child's exec
// error (or the fork's) as an errno.
func forkExec(path string, argv []string, sys *syscall.SysProcAttr) error {
	pid, err := syscall.ForkExec(path, argv, &syscall.ProcAttr{Env: []string{}, Sys: sys})
	if err != nil {
		return err
	}
	var ws syscall.WaitStatus
	_, err = syscall.Wait4(pid, &ws, 0, nil)
	return err
}

func errnoErr(e syscall.Errno) error {
	if e == 0 {
		return nil
	}
	return e
}

func sameFile(a, b string) bool {
	fa, err := os.Stat(a)
	if err != nil {
		return false
	}
	fb, err := os.Stat(b)
	return err == nil && os.SameFile(fa, fb)
}

// worker is a goroutine locked to its OS thread for good: when it stops,
// the thread ends with it.
type worker struct {
	name string
	tid  int
	jobs chan func()
}

func startWorker(name string) *worker {
	w := &worker{name: name, jobs: make(chan func())}
	tid := make(chan int)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine
		tid <- unix.Gettid()
		for f := range w.jobs {
			f()
		}
	}()
	w.tid = <-tid
	return w
}

func (w *worker) label() string { return fmt.Sprintf("%s tid %d", w.name, w.tid) }

func (w *worker) run(f func()) {
	done := make(chan struct{})
	w.jobs <- func() { f(); close(done) }
	<-done
}

func (w *worker) stop() { close(w.jobs) }
