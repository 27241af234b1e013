// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"errors"
	"net"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// Apply is irreversible, so every test that applies a policy runs its
// body in a child: the test binary re-executed with -test.run for just
// that test and childEnv naming it. The parent asserts on the child's
// exit status and output.
const childEnv = "TAILOPS_SANDBOX_TEST_CHILD"

// inChild reports whether this process is the child running t's body.
func inChild(t *testing.T) bool { return os.Getenv(childEnv) == t.Name() }

// runInChild re-executes the test binary for t alone, with env added,
// fails t unless the child passed, and returns the child's output.
func runInChild(t *testing.T, env ...string) string {
	t.Helper()
	// Each level of a subtest's name anchored on its own: "^TestCheck$/^a$".
	pattern := "^" + strings.ReplaceAll(t.Name(), "/", "$/^") + "$"
	cmd := exec.Command(os.Args[0], "-test.run="+pattern, "-test.v", "-test.count=1", "-test.timeout=120s")
	for _, kv := range os.Environ() {
		// Coverage data cannot be written from inside the sandbox.
		if !strings.HasPrefix(kv, "GOCOVERDIR=") && !strings.HasPrefix(kv, childEnv+"=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, childEnv+"="+t.Name())
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.CombinedOutput()
	t.Logf("child output:\n%s", out)
	if err != nil {
		t.Fatalf("child failed: %v", err)
	}
	if !strings.Contains(string(out), "--- PASS: "+t.Name()) {
		t.Fatalf("child did not report PASS for %s", t.Name())
	}
	return string(out)
}

var durationRE = regexp.MustCompile(`apply took ([0-9.]+[µmn]?s)`)

// logDuration repeats the child's Apply duration in the parent's log.
func logDuration(t *testing.T, out string) {
	t.Helper()
	m := durationRE.FindStringSubmatch(out)
	if m == nil {
		t.Errorf("child did not log how long Apply took")
		return
	}
	t.Logf("Apply took %s", m[1])
}

// wantErrno fails t unless err carries one of the errnos.
func wantErrno(t *testing.T, what string, err error, errnos ...syscall.Errno) {
	t.Helper()
	for _, e := range errnos {
		if errors.Is(err, e) {
			t.Logf("%s: refused as expected (%v)", what, err)
			return
		}
	}
	t.Errorf("%s: got %v, want one of %v", what, err, errnos)
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) uint16 {
	t.Helper()
	ln, err := ListenConfig().Listen(t.Context(), "tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return uint16(ln.Addr().(*net.TCPAddr).Port)
}

// assertThreadsConfined fails t unless every thread shows Seccomp: 2
// and NoNewPrivs: 1.
func assertThreadsConfined(t *testing.T) {
	t.Helper()
	ts, err := readThreads()
	if err != nil {
		t.Fatalf("reading threads: %v", err)
	}
	for _, th := range ts {
		if th.Seccomp != "2" || th.NoNewPrivs != "1" {
			t.Errorf("thread %d: Seccomp %q NoNewPrivs %q", th.TID, th.Seccomp, th.NoNewPrivs)
		}
	}
	t.Logf("%d threads, all Seccomp: 2 and NoNewPrivs: 1", len(ts))
}

// acceptAndClose accepts connections on ln and closes each at once,
// until ln is closed.
func acceptAndClose(ln net.Listener) {
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
}
