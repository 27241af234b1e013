// SPDX-License-Identifier: Apache-2.0

package main

import (
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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
