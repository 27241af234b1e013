// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tailops/tailops/journal/journaltest"
)

// testJournalDir writes a journal directory as journald keeps it (a
// machine-ID subdirectory) holding two entries of web.service, one at
// priority err, with systemd-journal-remote.
func testJournalDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	sub := filepath.Join(dir, "0123456789abcdef0123456789abcdef")
	if err := os.Mkdir(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	now := uint64(time.Now().UnixMicro())
	entry := func(us uint64, prio, msg string) journaltest.Entry {
		return journaltest.Entry{Realtime: us, Monotonic: us % 1e9, Boot: "fedcba9876543210fedcba9876543210", Fields: []journaltest.Field{
			{Name: "_SYSTEMD_UNIT", Value: []byte("web.service")}, {Name: "PRIORITY", Value: []byte(prio)},
			{Name: "_PID", Value: []byte("42")}, {Name: "MESSAGE", Value: []byte(msg)}}}
	}
	journaltest.Write(t, filepath.Join(sub, "system.journal"),
		journaltest.Layout{Compact: true, Keyed: true, Compress: true},
		[]journaltest.Entry{entry(now-2e6, "6", "web started"), entry(now-1e6, "3", "web failed")})
	return dir
}

// TestJournalNeedsTheGroup runs the binary, sandbox enforced, as an
// unprivileged user against a journal file as journald leaves it (mode
// 0640, owned by root and a group the user is not in): get_journal
// refuses, saying to add the user to systemd-journal (or --group-add in
// a container), and no capability is asked for. The same user given the
// file's group as a supplementary group reads it.
func TestJournalNeedsTheGroup(t *testing.T) {
	const uid, gid = 65532, 65533 // the user, and the journal files' group
	dir, err := os.MkdirTemp("", "tailops-journal-perm")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	bin := filepath.Join(dir, "tailops")
	b, err := os.ReadFile(binPath)
	if err != nil {
		t.Fatal(err)
	}
	jdir := testJournalDir(t)
	file := filepath.Join(jdir, "0123456789abcdef0123456789abcdef", "system.journal")
	for _, err := range []error{os.Chmod(dir, 0o755), os.WriteFile(bin, b, 0o755),
		os.Chmod(filepath.Dir(jdir), 0o755), os.Chmod(jdir, 0o2755), os.Chown(file, 0, gid), os.Chmod(file, 0o640)} {
		if err != nil {
			t.Fatal(err)
		}
	}
	state := func() string {
		s := filepath.Join(t.TempDir(), "state")
		if err := os.Mkdir(s, 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(s, uid, uid); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Dir(s), 0o755); err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, tc := range []struct {
		name   string
		groups []uint32
		refuse bool
	}{
		{"not in the group", nil, true},
		{"in the group", []uint32{gid}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := state()
			p := runBinaryAs(t, &syscall.Credential{Uid: uid, Gid: uid, Groups: tc.groups}, st, []string{"HOME=" + st},
				bin, "--sandbox", "enforce", "--tools", "get_journal", "--journal-dir", jdir)
			cs := sdkSession(t, p.URL, p.token(t, "system:read"))
			text, isErr := callText(t, cs, "get_journal", map[string]any{"unit": "web"})
			if tc.refuse {
				for _, want := range []string{"permission denied", "systemd-journal group", "usermod -a -G systemd-journal", "--group-add", "needs no capability"} {
					if !isErr || !strings.Contains(text, want) {
						t.Errorf("get_journal without the group: %q, want an error containing %q", text, want)
					}
				}
				return
			}
			if isErr || !strings.Contains(text, "web failed") || !strings.Contains(text, "web started") {
				t.Errorf("get_journal in the group: %s", text)
			}
		})
	}
}

// TestJournalDirs: the journal tools read journald's directories, under
// HOST_VAR and HOST_RUN when set, unless --journal-dir (its environment
// twin, the config file's journal_dirs) names others.
func TestJournalDirs(t *testing.T) {
	c := &config{env: readEnviron(func(k string) string {
		return map[string]string{"HOST_VAR": "/host/var", "HOST_RUN": "/host/run"}[k]
	})}
	if got := c.journalDirs(); !slices.Equal(got, []string{"/host/var/log/journal", "/host/run/log/journal"}) {
		t.Errorf("under HOST_VAR and HOST_RUN: %q", got)
	}
	if got := (&config{}).journalDirs(); !slices.Equal(got, []string{"/var/log/journal", "/run/log/journal"}) {
		t.Errorf("default: %q", got)
	}
	cfg := filepath.Join(t.TempDir(), "config.hujson")
	os.WriteFile(cfg, []byte(`{"journal_dirs": ["/srv/journal", "/srv/more"]}`), 0o600)
	if got := startServer(t, "--config", cfg).in.cfg.journalDirs(); !slices.Equal(got, []string{"/srv/journal", "/srv/more"}) {
		t.Errorf("from the config file: %q", got)
	}
	t.Setenv("TAILOPS_JOURNAL_DIR", "/env/journal")
	if got := startServer(t, "--config", cfg).in.cfg.journalDirs(); !slices.Equal(got, []string{"/env/journal"}) {
		t.Errorf("the environment twin over the config file: %q", got)
	}
	if got := startServer(t, "--config", cfg, "--journal-dir", "/a", "--journal-dir", "/b").in.cfg.journalDirs(); !slices.Equal(got, []string{"/a", "/b"}) {
		t.Errorf("the flag, repeated: %q", got)
	}
}
