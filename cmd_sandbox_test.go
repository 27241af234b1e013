// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tailops/tailops/sandbox"
)

// TestSandboxExplainWritesNothing: explain with a state directory that
// does not exist leaves it so, creates nothing anywhere else (its home,
// temporary and working directories stay empty), and makes no syscall
// that writes to the file system (under strace).
func TestSandboxExplainWritesNothing(t *testing.T) {
	strace, err := exec.LookPath("strace")
	if err != nil {
		t.Fatal("strace is needed: apt-get install -y strace")
	}
	writes := regexp.MustCompile(`(?m)^\d+ +((open|openat|openat2)\(.*O_(WRONLY|RDWR|CREAT|TRUNC)|` +
		`(creat|mkdir|mkdirat|unlink|unlinkat|rmdir|rename|renameat|renameat2|link|linkat|symlink|symlinkat|truncate|ftruncate|chmod|fchmod|fchmodat|chown|fchown|fchownat|lchown|utimensat|mknod|mknodat)\().*$`)
	for _, args := range [][]string{nil, {"--tailnet", "tsnet"}, {"--tailnet", "local"}} {
		t.Run(strings.Join(append([]string{"explain"}, args...), " "), func(t *testing.T) {
			dir := t.TempDir()
			home, tmp, cwd := filepath.Join(dir, "home"), filepath.Join(dir, "tmp"), filepath.Join(dir, "cwd")
			for _, d := range []string{home, tmp, cwd} {
				if err := os.Mkdir(d, 0o700); err != nil {
					t.Fatal(err)
				}
			}
			state := filepath.Join(dir, "state")
			trace := filepath.Join(t.TempDir(), "trace")
			cmd := exec.Command(strace, append([]string{"-f", "-qq", "-o", trace, "-e", "trace=%file,%desc", binPath,
				"sandbox", "explain", "--state-dir", state}, args...)...)
			cmd.Env = append(os.Environ(), "HOME="+home, "TMPDIR="+tmp, "XDG_STATE_HOME=", "XDG_CONFIG_HOME=", "XDG_CACHE_HOME=")
			cmd.Dir = cwd
			out, err := cmd.CombinedOutput()
			if err != nil || !strings.Contains(string(out), "TailOps sandbox policy") {
				t.Fatalf("explain: %v\n%s", err, out)
			}
			if _, err := os.Stat(state); !os.IsNotExist(err) {
				t.Errorf("explain created the state directory %s (stat: %v)", state, err)
			}
			filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
				if p != dir && p != home && p != tmp && p != cwd {
					t.Errorf("explain created %s", p)
				}
				return nil
			})
			b, err := os.ReadFile(trace)
			if err != nil {
				t.Fatal(err)
			}
			for _, m := range writes.FindAllString(string(b), -1) {
				t.Errorf("explain wrote to the file system: %s", m)
			}
			if !strings.Contains(string(out), "left out, since they do not exist") || !strings.Contains(string(out), state) {
				t.Errorf("explain does not show the state directory as not existing yet:\n%s", out)
			}
		})
	}
}

// TestServeRefusesSharedStateAndAuditDirs: the sandbox grants the state
// directory and the audit log's directory read-write, whole; serve,
// sandbox explain and token mint refuse, before writing anything, one
// that is a shared system directory or holds a never-exposed file,
// naming the flag and a directory of its own to use. An audit log in a
// directory of its own under /var/log is fine (with file roots that do
// not reach it).
func TestServeRefusesSharedStateAndAuditDirs(t *testing.T) {
	state := filepath.Join(t.TempDir(), "state")
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"serve", "--state-dir", state, "--audit-log", "/var/log/tailops-audit.log"},
			"--audit-log /var/log/tailops-audit.log: its directory /var/log is a shared system directory; TailOps creates and rotates the log's files there, " +
				"and its kernel sandbox grants the directory read-write: give the audit log a directory of its own, such as " + filepath.Join(state, "audit", "audit.log")},
		{[]string{"serve", "--sandbox", "off", "--state-dir", "/tmp"}, "--state-dir /tmp is a shared system directory; TailOps keeps its secrets and state there"},
		{[]string{"sandbox", "explain", "--state-dir", state, "--audit-log", "/etc/tailops.log"},
			"--audit-log /etc/tailops.log: its directory /etc is a shared system directory"},
		{[]string{"sandbox", "explain", "--state-dir", "/tmp"}, "--state-dir /tmp is a shared system directory"},
		{[]string{"token", "mint", "--state-dir", "/var/lib", "--agent", "a", "--scopes", "readonly"}, "--state-dir /var/lib is a shared system directory"},
		{[]string{"sandbox", "explain", "--state-dir", "/var/lib/tailscale"},
			"--state-dir /var/lib/tailscale holds /var/lib/tailscale/tailscaled.state, which must stay unreadable"},
	} {
		_, stderr, code := tailops(t, nil, tc.args...)
		if code == 0 || !strings.Contains(stderr, tc.want) || !strings.Contains(stderr, "a directory of its own, such as /") {
			t.Errorf("%s: exit %d, stderr %q; want %q", strings.Join(tc.args, " "), code, stderr, tc.want)
		}
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("the state directory was created (stat: %v)", err)
	}
	own := filepath.Join("/var/log", "tailops-test-"+filepath.Base(filepath.Dir(state)), "audit.log")
	if out, stderr, code := tailops(t, nil, "sandbox", "explain", "--state-dir", state, "--audit-log", own, "--file-root", t.TempDir()); code != 0 ||
		!strings.Contains(out, filepath.Dir(own)) {
		t.Errorf("explain with --audit-log %s: exit %d, %s", own, code, stderr)
	}
}

// TestBestEffortBelowEnforceWarns: best-effort on a kernel whose Landlock
// ABI is below enforce's minimum skips no rule, yet leaves TCP bind and
// connect open: it warns, in the log and on /readyz, naming what is not
// enforced (no path: /readyz answers without a token). A kernel enforce
// accepts logs what it cannot enforce at Info, as before.
func TestBestEffortBelowEnforceWarns(t *testing.T) {
	notEnforced := []string{"TCP bind and connect are not restricted (needs Landlock ABI 4, kernel has 3)",
		"unix sockets are not restricted by Landlock (resolve_unix needs ABI 9, kernel has 3): any pathname unix socket can be connected to, not only the granted /run/docker.sock"}
	for _, tc := range []struct {
		rep      sandbox.Report
		readyz   []string // substrings of the warning; none without
		warnLogs int      // lines logged at WARN
	}{
		{sandbox.Report{Mode: sandbox.ModeBestEffort, LandlockABI: 3, Landlock: true, Seccomp: true, NotEnforced: notEnforced},
			[]string{"below what --sandbox enforce requires", "Landlock ABI 3 is below the 4 enforce requires: TCP bind and connect are not restricted",
				"2 restriction(s) not enforced"}, 3},
		{sandbox.Report{Mode: sandbox.ModeBestEffort, LandlockABI: 3, Landlock: true, Seccomp: true, NotEnforced: notEnforced, Skipped: []string{"seccomp: x"}},
			[]string{"1 rule(s) skipped", "Landlock ABI 3 is below"}, 4},
		{sandbox.Report{Mode: sandbox.ModeEnforce, LandlockABI: 6, Landlock: true, Seccomp: true, NotEnforced: notEnforced[1:]}, nil, 0},
		{sandbox.Report{Mode: sandbox.ModeBestEffort, LandlockABI: 6, Landlock: true, Seccomp: true, NotEnforced: notEnforced[1:]}, nil, 0},
	} {
		var logs bytes.Buffer
		w := strings.Join(appliedWarnings(&tc.rep, slog.New(slog.NewTextHandler(&logs, nil))), "; ")
		for _, want := range tc.readyz {
			if !strings.Contains(w, want) {
				t.Errorf("%s: /readyz warning %q, want %q in it", tc.rep.String(), w, want)
			}
		}
		if len(tc.readyz) == 0 && w != "" {
			t.Errorf("%s: /readyz warning %q, want none", tc.rep.String(), w)
		}
		if strings.Contains(w, "/run/docker.sock") {
			t.Errorf("%s: /readyz warning names a path: %q", tc.rep.String(), w)
		}
		if n := strings.Count(logs.String(), "level=WARN"); n != tc.warnLogs {
			t.Errorf("%s: %d lines at WARN, want %d:\n%s", tc.rep.String(), n, tc.warnLogs, logs.String())
		}
	}
}
