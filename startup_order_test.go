// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestStartupOrder traces the real binary's syscalls with strace and
// checks the design's start-up order: the serving socket is bound and
// listening, and the secret and the audit log are open, before Landlock
// (landlock_restrict_self) and before the seccomp filter is loaded; no
// bind or listen happens once confinement has begun; and the listener
// accepts its first connection only after both are in force.
func TestStartupOrder(t *testing.T) {
	t.Run("checker catches a wrong order", testStartupOrderChecker)

	stracePath, err := exec.LookPath("strace")
	if err != nil {
		t.Fatalf("strace is not installed, and this test needs it to trace the real start-up syscalls: "+
			"install it (apt-get install -y strace; .ci/test.sh does): %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	servePort := port(t, "http://"+addr)
	state := t.TempDir()
	auditLog := filepath.Join(state, "audit.log")
	tracePath := filepath.Join(t.TempDir(), "strace.out")
	stderr := &syncBuffer{}
	cmd := exec.Command(stracePath, "-f", "-tt", "-qq", "-s", "4096", "-o", tracePath, "-e", "signal=none",
		"-e", "trace=bind,listen,accept,accept4,openat,openat2,landlock_restrict_self,seccomp",
		"--", binPath, "serve", "--sandbox", "enforce", "--listen", addr, "--state-dir", state, "--audit-log", auditLog)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	exited := false
	var child int
	t.Cleanup(func() {
		if exited {
			return
		}
		if child > 0 {
			syscall.Kill(child, syscall.SIGKILL)
		}
		cmd.Process.Kill()
		<-done
	})

	for deadline := time.Now().Add(30 * time.Second); ; {
		if code, err := httpGet("http://" + addr + "/healthz"); err == nil && code == 200 {
			break
		}
		select {
		case err := <-done:
			exited = true
			t.Fatalf("strace or the server exited before serving: %v\n%s", err, stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server did not answer /healthz within 30 s under strace:\n%s", stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}

	// The server is strace's child; stop it (only it) with SIGTERM.
	if child, err = tracedChild(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(child, syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-done:
		exited = true
		if err != nil { // strace exits with its tracee's status
			t.Errorf("the server did not exit cleanly on SIGTERM: %v\n%s", err, stderr)
		}
	case <-time.After(15 * time.Second):
		t.Fatalf("the server did not stop within 15 s of SIGTERM:\n%s", stderr)
	}
	if !strings.Contains(stderr.String(), "sandbox applied") {
		t.Errorf("the log does not say the sandbox was applied:\n%s", stderr)
	}

	f, err := os.Open(tracePath)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	calls, err := parseStrace(f)
	if err != nil {
		t.Fatal(err)
	}
	summary, problems := checkStartupOrder(calls, servePort, auditLog, filepath.Join(state, "secret"))
	for _, p := range problems {
		t.Error(p)
	}
	if len(problems) > 0 {
		b, _ := os.ReadFile(tracePath)
		t.Logf("trace:\n%s", b)
	}
	t.Log(summary)
}

// straceCall is one syscall from an strace -f log, put back together when
// strace split it into "<unfinished ...>" and "<... resumed>" lines.
type straceCall struct {
	PID   int
	Name  string
	Args  string // the text between the parentheses
	Ret   string // what follows " = ": "0", "-1 EAGAIN (…)", "?"
	Entry int    // line number of its start
	Exit  int    // line number of its return
	Line  string // the start line, for messages
}

// retVal returns the call's return value, and false when there is none
// (the call never returned, or strace printed "?").
func (c straceCall) retVal() (int64, bool) {
	f := strings.Fields(c.Ret)
	if len(f) == 0 {
		return 0, false
	}
	n, err := strconv.ParseInt(f[0], 0, 64)
	return n, err == nil
}

// ok reports whether the call returned without error.
func (c straceCall) ok() bool { n, ok := c.retVal(); return ok && n >= 0 }

// fd returns the call's first argument as a file descriptor, or -1.
func (c straceCall) fd() int {
	s, _, _ := strings.Cut(c.Args, ",")
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return -1
	}
	return n
}

var (
	// An optional "PID " or "[pid PID] " prefix and an optional -t/-tt/-ttt
	// time stamp, then the event.
	straceLine       = regexp.MustCompile(`^(?:\[pid\s+(\d+)\]\s+|(\d+)\s+)?(?:\d+(?::\d\d)*(?:\.\d+)?\s+)?(.*)$`)
	straceUnfinished = regexp.MustCompile(`^(\w+)\((.*?)\s*<unfinished \.\.\.>$`)
	straceResumed    = regexp.MustCompile(`^<\.\.\. (\w+) resumed>\s*(.*)$`)
	straceCallRe     = regexp.MustCompile(`^(\w+)\((.*)$`)
	straceReturn     = regexp.MustCompile(`^(.*)\)\s+=\s+(.*)$`)
)

// parseStrace reads an strace log (-f, with or without time stamps) and
// returns its syscalls in the order they started. Signal, exit and other
// lines are skipped.
func parseStrace(r io.Reader) ([]straceCall, error) {
	var calls []straceCall
	pending := map[int]int{} // pid → index in calls of its unfinished call
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	for n := 1; sc.Scan(); n++ {
		m := straceLine.FindStringSubmatch(sc.Text())
		pid, _ := strconv.Atoi(m[1] + m[2])
		rest := m[3]
		switch {
		case strings.HasPrefix(rest, "---") || strings.HasPrefix(rest, "+++"):
		case straceResumed.MatchString(rest):
			mm := straceResumed.FindStringSubmatch(rest)
			i, ok := pending[pid]
			if !ok || calls[i].Name != mm[1] {
				// Its start is not in the log: count it from here.
				calls = append(calls, straceCall{PID: pid, Name: mm[1], Entry: n, Line: sc.Text()})
				i = len(calls) - 1
			}
			delete(pending, pid)
			c := &calls[i]
			c.Exit = n
			if rm := straceReturn.FindStringSubmatch(mm[2]); rm != nil {
				c.Args, c.Ret = joinStraceText(c.Args, rm[1]), rm[2]
			} else {
				c.Args = joinStraceText(c.Args, mm[2])
			}
		case straceUnfinished.MatchString(rest):
			mm := straceUnfinished.FindStringSubmatch(rest)
			pending[pid] = len(calls)
			calls = append(calls, straceCall{PID: pid, Name: mm[1], Args: mm[2], Entry: n, Line: sc.Text()})
		case straceCallRe.MatchString(rest):
			mm := straceCallRe.FindStringSubmatch(rest)
			c := straceCall{PID: pid, Name: mm[1], Entry: n, Exit: n, Line: sc.Text()}
			if rm := straceReturn.FindStringSubmatch(mm[2]); rm != nil {
				c.Args, c.Ret = rm[1], rm[2]
			} else {
				c.Args = mm[2] // e.g. exit_group(0) = ?
			}
			calls = append(calls, c)
		}
	}
	return calls, sc.Err()
}

func joinStraceText(a, b string) string {
	if a == "" || b == "" {
		return a + b
	}
	return a + " " + b
}

// checkStartupOrder checks a start-up trace against the design's order
// and returns a summary of what it found and what is wrong.
func checkStartupOrder(calls []straceCall, servePort int, auditLog, secret string) (summary string, problems []string) {
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	first := func(match func(straceCall) bool) *straceCall {
		for i := range calls {
			if match(calls[i]) {
				return &calls[i]
			}
		}
		return nil
	}
	opened := func(path string) func(straceCall) bool {
		return func(c straceCall) bool {
			return (c.Name == "openat" || c.Name == "openat2") && c.ok() && strings.Contains(c.Args, strconv.Quote(path))
		}
	}

	bind := first(func(c straceCall) bool {
		return c.Name == "bind" && c.ok() && strings.Contains(c.Args, fmt.Sprintf("htons(%d)", servePort)) && strings.Contains(c.Args, `"127.0.0.1"`)
	})
	if bind == nil {
		bad("no successful bind of 127.0.0.1:%d in the trace", servePort)
		return "", problems
	}
	lfd := bind.fd()
	listen := first(func(c straceCall) bool {
		return c.Name == "listen" && c.ok() && c.fd() == lfd && c.Entry > bind.Exit
	})
	if listen == nil {
		bad("no successful listen on the serving socket (fd %d) after its bind (line %d)", lfd, bind.Entry)
		return "", problems
	}
	audit := first(opened(auditLog))
	if audit == nil {
		bad("the audit log %s is never opened in the trace", auditLog)
	}
	sec := first(opened(secret))
	if sec == nil {
		bad("the secret %s is never opened in the trace", secret)
	}

	var lls []straceCall
	for _, c := range calls {
		if c.Name == "landlock_restrict_self" && c.ok() {
			lls = append(lls, c)
		}
	}
	if len(lls) == 0 {
		bad("no successful landlock_restrict_self in the trace")
	}
	filter := first(func(c straceCall) bool {
		// libseccomp probes with a NULL filter first (EFAULT): only the
		// successful load counts.
		return c.Name == "seccomp" && strings.HasPrefix(c.Args, "SECCOMP_SET_MODE_FILTER") && c.ok()
	})
	if filter == nil {
		bad("no successful seccomp(SECCOMP_SET_MODE_FILTER, …) in the trace")
	}
	if len(lls) == 0 || filter == nil || audit == nil || sec == nil {
		return "", problems
	}
	landlock := lls[0]
	begun := min(landlock.Entry, filter.Entry) // confinement has begun
	inForce := filter.Exit                     // and is complete on every thread
	for _, c := range lls {
		inForce = max(inForce, c.Exit)
	}

	for _, before := range []struct {
		what string
		c    *straceCall
	}{{"bind of the serving port", bind}, {"listen on the serving port", listen}, {"open of the audit log", audit}, {"open of the secret", sec}} {
		if before.c.Exit >= landlock.Entry {
			bad("%s (line %d: %s) does not happen before landlock_restrict_self (line %d: %s)",
				before.what, before.c.Entry, before.c.Line, landlock.Entry, landlock.Line)
		}
		if before.c.Exit >= filter.Entry {
			bad("%s (line %d: %s) does not happen before the seccomp filter is loaded (line %d: %s)",
				before.what, before.c.Entry, before.c.Line, filter.Entry, filter.Line)
		}
	}
	var accepted *straceCall
	for i, c := range calls {
		switch {
		case (c.Name == "bind" || c.Name == "listen") && c.Entry > begun:
			bad("%s after confinement began (line %d): line %d: %s", c.Name, begun, c.Entry, c.Line)
		case (c.Name == "accept4" || c.Name == "accept") && c.fd() == lfd && c.Entry > listen.Exit:
			if c.Entry <= inForce {
				bad("%s on the listener before Landlock and seccomp are both in force (line %d): line %d: %s", c.Name, inForce, c.Entry, c.Line)
			}
			if accepted == nil && c.ok() {
				accepted = &calls[i]
			}
		}
	}
	if accepted == nil {
		bad("no accept on the listener (fd %d) returned a connection", lfd)
		return "", problems
	}
	summary = fmt.Sprintf("trace lines: secret opened %d, audit log opened %d, bind %d, listen %d (fd %d), "+
		"landlock_restrict_self %d (%d threads), seccomp filter %d, first accepted connection %d",
		sec.Entry, audit.Entry, bind.Entry, listen.Entry, lfd, landlock.Entry, len(lls), filter.Entry, accepted.Entry)
	return summary, problems
}

// tracedChild returns the pid of strace's child: the traced server.
func tracedChild(stracePid int) (int, error) {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "status"))
		if err != nil {
			continue
		}
		if strings.Contains(string(b), fmt.Sprintf("\nPPid:\t%d\n", stracePid)) && strings.HasPrefix(string(b), "Name:\ttailops\n") {
			return pid, nil
		}
	}
	return 0, fmt.Errorf("no tailops process is a child of strace (pid %d)", stracePid)
}

// sampleStartupTrace is a start-up trace in strace -f -tt form, cut down
// from a real one, with a call split across threads.
const sampleStartupTrace = `100 14:42:37.766107 openat(AT_FDCWD, "/etc/ld.so.cache", O_RDONLY|O_CLOEXEC) = 3
100 14:42:37.789208 seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, NULL) = -1 EFAULT (Bad address)
102 14:42:37.825650 openat(AT_FDCWD, "/s/secret", O_WRONLY|O_CREAT|O_EXCL|O_CLOEXEC, 0600) = 8
102 14:42:37.827581 openat(AT_FDCWD, "/s/audit.log", O_RDWR|O_CREAT|O_APPEND|O_CLOEXEC, 0600) = 9
102 14:42:37.829058 bind(11, {sa_family=AF_INET, sin_port=htons(8080), sin_addr=inet_addr("127.0.0.1")}, 16) = 0
102 14:42:37.829145 listen(11, 4096)  = 0
102 14:42:37.835240 landlock_restrict_self(12, 0) = 0
101 14:42:37.835512 landlock_restrict_self(12, 0 <unfinished ...>
100 14:42:37.835528 landlock_restrict_self(12, 0 <unfinished ...>
101 14:42:37.835617 <... landlock_restrict_self resumed>) = 0
100 14:42:37.835628 <... landlock_restrict_self resumed>) = 0
102 14:42:37.840062 seccomp(SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC|SECCOMP_FILTER_FLAG_TSYNC_ESRCH, {len=244, filter=0x7f264402f610}) = 0
102 14:42:37.844190 accept4(11, 0x355d40790bac, [112], SOCK_CLOEXEC|SOCK_NONBLOCK) = -1 EAGAIN (Resource temporarily unavailable)
--- SIGURG {si_signo=SIGURG, si_code=SI_TKILL, si_pid=100, si_uid=0} ---
104 14:42:40.816782 accept4(11, <unfinished ...>
103 14:42:40.816790 openat(AT_FDCWD, "/s/audit.log.head", O_RDWR|O_CREAT|O_CLOEXEC, 0600) = 12
104 14:42:40.816799 <... accept4 resumed>{sa_family=AF_INET, sin_port=htons(52454), sin_addr=inet_addr("127.0.0.1")}, [112 => 16], SOCK_CLOEXEC|SOCK_NONBLOCK) = 13
+++ exited with 0 +++
`

// testStartupOrderChecker feeds checkStartupOrder a good trace and
// traces with one thing out of order: each must be caught, so that the
// real trace's pass means something.
func testStartupOrderChecker(t *testing.T) {
	lines := strings.SplitAfter(sampleStartupTrace, "\n")
	find := func(lines []string, sub string) int {
		for i, l := range lines {
			if strings.Contains(l, sub) {
				return i
			}
		}
		t.Fatalf("no %q in the sample trace", sub)
		return -1
	}
	// insertAfter returns lines with line inserted after the one
	// containing anchor.
	insertAfter := func(lines []string, anchor, line string) string {
		i := find(lines, anchor) + 1
		return strings.Join(slices.Insert(slices.Clone(lines), i, line), "")
	}
	// moveAfter returns the sample with the line containing what moved to
	// just after the line containing anchor.
	moveAfter := func(what, anchor string) string {
		i := find(lines, what)
		return insertAfter(slices.Delete(slices.Clone(lines), i, i+1), anchor, lines[i])
	}
	for _, tc := range []struct {
		name, trace, want string
	}{
		{"good order", sampleStartupTrace, ""},
		{"pid prefixes in brackets and no time stamps",
			regexp.MustCompile(`(?m)^(\d+) \S+ `).ReplaceAllString(sampleStartupTrace, "[pid $1] "), ""},
		{"listen after Landlock", moveAfter("listen(11", "landlock_restrict_self(12, 0) = 0"),
			"listen on the serving port (line 7: 102 14:42:37.829145 listen(11, 4096)  = 0) does not happen before landlock_restrict_self"},
		{"audit log opened after seccomp", moveAfter(`"/s/audit.log"`, "filter=0x"),
			"open of the audit log (line 12: "},
		{"secret opened after Landlock", moveAfter(`"/s/secret"`, "101 14:42:37.835617"), "open of the secret (line 10: "},
		{"bind during confinement", insertAfter(lines, "100 14:42:37.835528",
			`101 14:42:37.835600 bind(15, {sa_family=AF_INET, sin_port=htons(0), sin_addr=inet_addr("127.0.0.1")}, 16) = 0`+"\n"),
			"bind after confinement began (line 7): line 10: 101 14:42:37.835600 bind(15"},
		{"another bind after confinement",
			sampleStartupTrace + `105 14:42:41.000000 bind(14, {sa_family=AF_INET, sin_port=htons(9999), sin_addr=inet_addr("0.0.0.0")}, 16) = -1 EACCES (Permission denied)` + "\n",
			"bind after confinement began"},
		{"accept before seccomp", moveAfter("accept4(11, 0x355d40790bac", "listen(11"), "accept4 on the listener before Landlock and seccomp are both in force"},
		{"accept before the last thread is restricted", moveAfter("accept4(11, 0x355d40790bac", "100 14:42:37.835528"),
			"accept4 on the listener before Landlock and seccomp are both in force"},
		{"no seccomp filter loaded", strings.Replace(sampleStartupTrace, "{len=244, filter=0x7f264402f610}) = 0", "{len=244, filter=0x7f264402f610}) = -1 EINVAL (Invalid argument)", 1),
			"no successful seccomp(SECCOMP_SET_MODE_FILTER"},
		{"no Landlock", regexp.MustCompile(`(?m)^.*landlock.*\n`).ReplaceAllString(sampleStartupTrace, ""), "no successful landlock_restrict_self"},
		{"no connection accepted", strings.Replace(sampleStartupTrace, "SOCK_NONBLOCK) = 13", "SOCK_NONBLOCK) = -1 EAGAIN (Resource temporarily unavailable)", 1),
			"no accept on the listener (fd 11) returned a connection"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls, err := parseStrace(strings.NewReader(tc.trace))
			if err != nil {
				t.Fatal(err)
			}
			summary, problems := checkStartupOrder(calls, 8080, "/s/audit.log", "/s/secret")
			got := strings.Join(problems, "\n")
			switch {
			case tc.want == "" && got != "":
				t.Errorf("the checker refuses a good trace:\n%s\ntrace:\n%s", got, tc.trace)
			case tc.want == "" && !strings.Contains(summary, "first accepted connection 15"):
				t.Errorf("the split accept4 was not put back together: %s", summary)
			case tc.want != "" && !strings.Contains(got, tc.want):
				t.Errorf("the checker says %q, want it to say %q\ntrace:\n%s", got, tc.want, tc.trace)
			}
		})
	}
}
