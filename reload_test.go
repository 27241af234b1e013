// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestRevocationReloadsOnSIGHUP runs the sandboxed binary with a config
// file and proves that SIGHUP alone reloads its revocations: the file is
// rewritten in place with the same size and mtime, so the 1 s change
// ticker (which compares fileStamp) cannot see it; only the signal can.
// The reload also proves the config file stays readable under Landlock.
// A config that no longer parses keeps the previous revocations and logs
// the error.
func TestRevocationReloadsOnSIGHUP(t *testing.T) {
	const (
		size    = 96 // every config version is padded to this many bytes
		initial = `{"revoked": {"agents": ["other-agent"]}}`
		okLog   = `msg="reloaded revocations"`
		badLog  = `msg="reloading config file; keeping the previous revocations"`
	)
	for _, tc := range []struct {
		name    string
		next    string          // the config after the rewrite
		wantLog string          // what the log says after SIGHUP
		revoked map[string]bool // agent → refused after SIGHUP
	}{
		{
			name:    "new revocations replace the old",
			next:    `{"revoked": {"agents": ["sandbox-test"]}}`,
			wantLog: okLog + " token_ids=0 agents=1",
			revoked: map[string]bool{"sandbox-test": true, "other-agent": false},
		},
		{
			// It would revoke sandbox-test if it parsed: it must not.
			name:    "unparsable config keeps the previous revocations",
			next:    `{"revoked": {"agents": ["sandbox-test"]}`,
			wantLog: badLog,
			revoked: map[string]bool{"sandbox-test": false, "other-agent": true},
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg := filepath.Join(t.TempDir(), "config.hujson")
			if err := os.WriteFile(cfg, padConfig(t, initial, size), 0o600); err != nil {
				t.Fatal(err)
			}
			p := runBinary(t, binPath, "--config", cfg, "--sandbox", "enforce")
			if !p.waitLog("sandbox applied") {
				t.Fatalf("the server is not sandboxed:\n%s", p.Stderr)
			}
			tokens := map[string]string{"sandbox-test": p.token(t, "readonly"), "other-agent": mintAgent(t, p.State, "other-agent")}
			wantAccess(t, p, tokens, "at start (config read at start-up)", map[string]bool{"sandbox-test": false, "other-agent": true})

			stamp := fileStamp(cfg)
			rewriteInPlace(t, cfg, padConfig(t, tc.next, size))
			if got := fileStamp(cfg); got != stamp || stamp == "" {
				t.Fatalf("the rewrite changed the file's stamp %q → %q: the ticker could see it, so this test would prove nothing", stamp, got)
			}
			// Long enough for the 1 s ticker to have fired at least twice.
			time.Sleep(2500 * time.Millisecond)
			if log := p.Stderr.String(); strings.Contains(log, okLog) || strings.Contains(log, badLog) {
				t.Fatalf("the config was reloaded before SIGHUP (the ticker saw the rewrite; a race with the rewrite?):\n%s", log)
			}
			wantAccess(t, p, tokens, "before SIGHUP (the ticker must not have seen the rewrite)", map[string]bool{"sandbox-test": false, "other-agent": true})

			if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			waitLog(t, p, tc.wantLog)
			log := p.Stderr.String()
			if tc.wantLog == badLog && !strings.Contains(log, cfg) {
				t.Errorf("the reload error does not name the config file %s:\n%s", cfg, log)
			}
			if strings.Contains(log, "permission denied") {
				t.Errorf("the config file is not readable under the sandbox:\n%s", log)
			}
			wantAccess(t, p, tokens, "after SIGHUP", tc.revoked)
			// And it stays that way: nothing else reloads it behind our back.
			time.Sleep(1500 * time.Millisecond)
			wantAccess(t, p, tokens, "1.5 s after SIGHUP", tc.revoked)
			if n := strings.Count(p.Stderr.String(), okLog) + strings.Count(p.Stderr.String(), badLog); n != 1 {
				t.Errorf("%d reloads logged for one SIGHUP, want 1:\n%s", n, p.Stderr)
			}
			if code, err := httpGet(p.URL + "/healthz"); err != nil || code != 200 {
				t.Fatalf("the server does not answer /healthz after SIGHUP (%d, %v):\n%s", code, err, p.Stderr)
			}
		})
	}
}

// padConfig pads a HuJSON config with trailing spaces to size bytes, so
// that every version of the file has the same size.
func padConfig(t *testing.T, body string, size int) []byte {
	t.Helper()
	if len(body) > size {
		t.Fatalf("config %q is longer than %d bytes", body, size)
	}
	return []byte(body + strings.Repeat(" ", size-len(body)))
}

// rewriteInPlace overwrites path with b (the same length) in place — the
// same inode, which the Landlock rule follows — and restores its mtime.
func rewriteInPlace(t *testing.T, path string, b []byte) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if fi.Size() != int64(len(b)) {
		t.Fatalf("rewrite of %s: %d bytes for a %d-byte file", path, len(b), fi.Size())
	}
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, werr := f.WriteAt(b, 0)
	cerr := f.Close()
	if err := os.Chtimes(path, time.Time{}, fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if werr != nil || cerr != nil {
		t.Fatalf("rewriting %s: %v %v", path, werr, cerr)
	}
}

// mintAgent mints a readonly token for agent with the CLI.
func mintAgent(t *testing.T, state, agent string) string {
	t.Helper()
	out, stderr, code := tailops(t, nil, "token", "mint", "--state-dir", state, "--agent", agent, "--scopes", "readonly")
	if code != 0 {
		t.Fatalf("mint for %s: %s", agent, stderr)
	}
	return strings.TrimSpace(out)
}

// initStatus posts an MCP initialize with tok and returns the HTTP
// status: 200 when the token is accepted, 401 when it is refused.
func initStatus(t *testing.T, s *testServer, tok string) int {
	t.Helper()
	resp := s.rpc(t, tok, "", map[string]any{"jsonrpc": "2.0", "id": 1, "method": "initialize",
		"params": map[string]any{"protocolVersion": "2025-06-18", "capabilities": map[string]any{},
			"clientInfo": map[string]any{"name": "reload-test", "version": "1"}}})
	return resp.StatusCode
}

// TestConfigReloadSurvivesEditors runs the binary under --sandbox enforce
// with its config in a directory of its own (the layout README
// recommends) and edits the file the ways people do: a new file renamed
// over it (vim, sed -i, mv, configuration management) and an in-place
// write, each noticed by the change detection alone and by SIGHUP. The
// revocations must follow every time, each reload audited. A rename that
// keeps size and mtime differs only in its inode: change detection must
// still see it.
func TestConfigReloadSurvivesEditors(t *testing.T) {
	const size = 96
	for _, tc := range []struct {
		name   string
		edit   func(t *testing.T, path string, b []byte)
		sighup bool
	}{
		{"rename-replace with the same size and mtime, seen by change detection", renameReplace, false},
		{"rename-replace, then SIGHUP", renameReplace, true},
		{"in-place edit, seen by change detection", editInPlace, false},
		{"in-place edit with the same size and mtime, then SIGHUP", rewriteInPlace, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "tailops")
			if err := os.Mkdir(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			cfg := filepath.Join(dir, "config.hujson")
			if err := os.WriteFile(cfg, padConfig(t, `{"revoked": {"agents": ["other-agent"]}}`, size), 0o600); err != nil {
				t.Fatal(err)
			}
			p := runBinary(t, binPath, "--config", cfg, "--sandbox", "enforce")
			if !p.waitLog("sandbox applied") {
				t.Fatalf("the server is not sandboxed:\n%s", p.Stderr)
			}
			if body := readyz(t, p.URL); strings.Contains(body, "WARNING") {
				t.Errorf("/readyz warns with the config in a directory of its own:\n%s\nlog:\n%s", body, p.Stderr)
			}
			tokens := map[string]string{"sandbox-test": p.token(t, "readonly"), "other-agent": mintAgent(t, p.State, "other-agent")}
			wantAccess(t, p, tokens, "at start", map[string]bool{"other-agent": true})

			tc.edit(t, cfg, padConfig(t, `{"revoked": {"agents": ["sandbox-test"]}}`, size))
			if tc.sighup {
				if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
					t.Fatal(err)
				}
			}
			waitLog(t, p, `msg="reloaded revocations" token_ids=0 agents=1`)
			log := p.Stderr.String()
			if !tc.sighup && !strings.Contains(log, `trigger="file changed"`) {
				t.Errorf("the reload was not triggered by the change detection:\n%s", log)
			}
			if strings.Contains(log, "permission denied") || strings.Contains(log, "level=ERROR") {
				t.Errorf("the reload failed:\n%s", log)
			}
			wantAccess(t, p, tokens, "after the edit", map[string]bool{"sandbox-test": true})
			recs := auditEvents(t, p, "config_reload")
			if len(recs) == 0 || recs[len(recs)-1]["result"] != "success" ||
				!strings.Contains(fmt.Sprint(recs[len(recs)-1]["reason"]), "revocations reloaded: 0 token ids, 1 agents") {
				t.Errorf("no config_reload success record in the audit log: %v", recs)
			}
		})
	}
}

// TestConfigReloadFailureIsLoud proves that a reload that cannot apply the
// file is never a silent keep: the error is logged, /readyz warns (and the
// server stays up) until a later reload succeeds, and both outcomes are
// audited. Config files in a directory the sandbox cannot grant (/etc,
// which holds /etc/shadow) are announced at start, and a reload after a
// rename-replace there says how to fix it.
func TestConfigReloadFailureIsLoud(t *testing.T) {
	const size = 96
	revokeOther := `{"revoked": {"agents": ["other-agent"]}}`
	revokeSelf := `{"revoked": {"agents": ["sandbox-test"]}}`
	t.Run("unparsable, then fixed", func(t *testing.T) {
		cfg := filepath.Join(t.TempDir(), "config.hujson")
		if err := os.WriteFile(cfg, padConfig(t, revokeOther, size), 0o600); err != nil {
			t.Fatal(err)
		}
		p := runBinary(t, binPath, "--config", cfg, "--sandbox", "enforce")
		tokens := map[string]string{"sandbox-test": p.token(t, "readonly"), "other-agent": mintAgent(t, p.State, "other-agent")}

		renameReplace(t, cfg, padConfig(t, `{"revoked": {"agents": ["sandbox-test"]}`, size))
		waitLog(t, p, `level=ERROR msg="reloading config file; keeping the previous revocations" trigger="file changed"`)
		wantAccess(t, p, tokens, "after the broken edit", map[string]bool{"other-agent": true})
		if body := readyz(t, p.URL); !strings.Contains(body, "ready\n") ||
			!strings.Contains(body, "failed: the revocations loaded before stay in force until a reload succeeds") || strings.Contains(body, cfg) {
			t.Errorf("/readyz after a failed reload (want a warning, no path):\n%s", body)
		}
		if recs := auditEvents(t, p, "config_reload"); len(recs) != 1 || recs[0]["result"] != "error" ||
			!strings.Contains(fmt.Sprint(recs[0]["error"]), cfg) {
			t.Errorf("audit records of the failed reload: %v", recs)
		}

		editInPlace(t, cfg, padConfig(t, revokeSelf, size))
		waitLog(t, p, `msg="reloaded revocations" token_ids=0 agents=1`)
		wantAccess(t, p, tokens, "after the fix", map[string]bool{"sandbox-test": true})
		if body := readyz(t, p.URL); body != "ready\n" {
			t.Errorf("/readyz after a successful reload still warns:\n%s", body)
		}
		if recs := auditEvents(t, p, "config_reload"); len(recs) != 2 || recs[1]["result"] != "success" {
			t.Errorf("audit records after the fix: %v", recs)
		}
	})
	t.Run("in /etc, replaced by rename", func(t *testing.T) {
		f, err := os.CreateTemp("/etc", "tailops-reload-test-*.hujson")
		if err != nil {
			t.Fatal(err)
		}
		cfg := f.Name()
		f.Close()
		t.Cleanup(func() { os.Remove(cfg); os.Remove(cfg + ".new") })
		if err := os.WriteFile(cfg, padConfig(t, revokeOther, size), 0o600); err != nil {
			t.Fatal(err)
		}
		p := runBinary(t, binPath, "--config", cfg, "--sandbox", "enforce")
		tokens := map[string]string{"sandbox-test": p.token(t, "readonly"), "other-agent": mintAgent(t, p.State, "other-agent")}
		log := p.Stderr.String()
		for _, want := range []string{"level=WARN msg=\"sandbox: the config file is granted alone, not its directory", "config=" + cfg,
			"holds /etc/shadow", "move the config into a directory of its own, such as /etc/tailops/"} {
			if !strings.Contains(log, want) {
				t.Errorf("the start-up log lacks %q:\n%s", want, log)
			}
		}
		startWarning := "WARNING: config reloads do not see a config file that an editor or mv replaced (only in-place edits) until a restart"
		if body := readyz(t, p.URL); !strings.Contains(body, startWarning) || strings.Contains(body, cfg) {
			t.Errorf("/readyz at start (want the warning, no path):\n%s", body)
		}

		renameReplace(t, cfg, padConfig(t, revokeSelf, size))
		waitLog(t, p, `level=ERROR msg="reloading config file; keeping the previous revocations" trigger="file changed"`)
		log = p.Stderr.String()
		for _, want := range []string{"permission denied", "restart TailOps to read a file that replaced it"} {
			if !strings.Contains(log, want) {
				t.Errorf("the reload error lacks %q:\n%s", want, log)
			}
		}
		// The old revocations stay in force, and everything says so.
		wantAccess(t, p, tokens, "after the rename", map[string]bool{"other-agent": true})
		if body := readyz(t, p.URL); !strings.Contains(body, startWarning) || !strings.Contains(body, "(file changed) failed") {
			t.Errorf("/readyz after the failed reload:\n%s", body)
		}
		if recs := auditEvents(t, p, "config_reload"); len(recs) != 1 || recs[0]["result"] != "error" ||
			!strings.Contains(fmt.Sprint(recs[0]["error"]), "permission denied") {
			t.Errorf("audit records of the failed reload: %v", recs)
		}
	})
}

// renameReplace writes b to a new file beside path, with path's mtime,
// and renames it over path: what editors, sed -i, mv and configuration
// management do. The file at path is then another inode.
func renameReplace(t *testing.T, path string, b []byte) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	tmp := path + ".new"
	if err := os.WriteFile(tmp, b, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Chtimes(tmp, time.Time{}, fi.ModTime()); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

// editInPlace truncates and rewrites path in place (same inode), the way
// `cat > path` or an editor with backupcopy=yes saves, moving its mtime.
func editInPlace(t *testing.T, path string, b []byte) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	// A coarse file system clock could leave the mtime where it was.
	if err := os.Chtimes(path, time.Time{}, fi.ModTime().Add(time.Second)); err != nil {
		t.Fatal(err)
	}
}

// wantAccess checks which tokens the server refuses: revoked agents get
// 401, the others 200.
func wantAccess(t *testing.T, p *procServer, tokens map[string]string, when string, revoked map[string]bool) {
	t.Helper()
	ts := &testServer{URL: p.URL}
	for agent, tok := range tokens {
		want := 200
		if revoked[agent] {
			want = 401
		}
		if got := initStatus(t, ts, tok); got != want {
			t.Errorf("%s: the token of %s got %d, want %d\nlog:\n%s", when, agent, got, want, p.Stderr)
		}
	}
}

// waitLog waits up to 5 s for s in the server's log.
func waitLog(t *testing.T, p *procServer, s string) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); !strings.Contains(p.Stderr.String(), s); {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the log within 5 s:\n%s", s, p.Stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// readyz returns /readyz's body, failing the test unless it answers 200.
func readyz(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Errorf("/readyz = %d:\n%s", resp.StatusCode, b)
	}
	return string(b)
}

// auditEvents returns the records of one event in the server's audit log.
func auditEvents(t *testing.T, p *procServer, event string) []map[string]any {
	t.Helper()
	s := &testServer{AuditLog: filepath.Join(p.State, "audit", "audit.log")}
	var out []map[string]any
	for _, r := range s.auditRecords(t) {
		if r["event"] == event {
			out = append(out, r)
		}
	}
	return out
}

// TestSIGHUPWithoutReloadKeepsServing: with nothing to reload (no config
// file, no --jwks-url), a SIGHUP — what the NixOS module's `systemctl
// reload` sends — is logged and the server goes on serving; it used to
// end the process (Go's default for SIGHUP), with no server_stop record,
// which systemd's Restart=on-failure does not restart.
func TestSIGHUPWithoutReloadKeepsServing(t *testing.T) {
	p := runBinary(t, binPath, "--sandbox", "enforce")
	for i := range 2 {
		if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(5 * time.Second); strings.Count(p.Stderr.String(), "SIGHUP: nothing to reload") <= i; {
			if time.Now().After(deadline) {
				t.Fatalf("SIGHUP %d not logged within 5 s:\n%s", i+1, p.Stderr)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	time.Sleep(200 * time.Millisecond)
	if code, err := httpGet(p.URL + "/healthz"); err != nil || code != 200 {
		t.Fatalf("/healthz after SIGHUP: %d, %v\n%s", code, err, p.Stderr)
	}
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := p.Cmd.Wait(); err != nil {
		t.Fatalf("the server's exit after SIGTERM: %v\n%s", err, p.Stderr)
	}
	b, err := os.ReadFile(filepath.Join(p.State, "audit", "audit.log"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if last := lines[len(lines)-1]; !strings.Contains(last, `"event":"server_stop"`) {
		t.Errorf("the audit log's last record is not server_stop: %s", last)
	}
}

// TestReloadSaysWhenSettingsNeedARestart: only revocations reload; a
// reload that finds other settings changed (here read_only, a tightening
// an operator would expect in force) still applies the revocations, and
// says in the log, on /readyz and in its audit record that the rest needs
// a restart, until the file holds the start's settings again.
func TestReloadSaysWhenSettingsNeedARestart(t *testing.T) {
	const size = 96
	cfg := filepath.Join(t.TempDir(), "config.hujson")
	if err := os.WriteFile(cfg, padConfig(t, `{"revoked": {"agents": ["other-agent"]}}`, size), 0o600); err != nil {
		t.Fatal(err)
	}
	p := runBinary(t, binPath, "--config", cfg, "--sandbox", "enforce")
	tokens := map[string]string{"sandbox-test": p.token(t, "readonly"), "other-agent": mintAgent(t, p.State, "other-agent")}

	editInPlace(t, cfg, padConfig(t, `{"read_only": true, "revoked": {"agents": ["sandbox-test"]}}`, size))
	waitLog(t, p, `level=WARN msg="the config file's settings other than revoked changed since start; restart TailOps to apply them"`)
	wantAccess(t, p, tokens, "after the edit", map[string]bool{"sandbox-test": true})
	if body := readyz(t, p.URL); !strings.Contains(body, "only revocations reload, so the rest applies at the next restart") || strings.Contains(body, cfg) {
		t.Errorf("/readyz after a reload with other settings changed (want the warning, no path):\n%s", body)
	}
	if recs := auditEvents(t, p, "config_reload"); len(recs) != 1 || recs[0]["result"] != "success" ||
		!strings.Contains(fmt.Sprint(recs[0]["reason"]), "other settings changed and need a restart") {
		t.Errorf("audit records of the reload: %v", recs)
	}

	editInPlace(t, cfg, padConfig(t, `{"revoked": {"agents": ["other-agent"]}}`, size))
	waitLog(t, p, `msg="reloaded revocations" token_ids=0 agents=1`)
	if body := readyz(t, p.URL); body != "ready\n" {
		t.Errorf("/readyz with the start's settings back still warns:\n%s", body)
	}
}
