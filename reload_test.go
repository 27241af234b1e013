// SPDX-License-Identifier: Apache-2.0

package main

import (
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
			if !strings.Contains(p.Stderr.String(), "sandbox applied") {
				t.Fatalf("the server is not sandboxed:\n%s", p.Stderr)
			}
			tokens := map[string]string{"sandbox-test": p.token(t, "readonly"), "other-agent": mintAgent(t, p.State, "other-agent")}
			ts := &testServer{URL: p.URL}
			check := func(when string, revoked map[string]bool) {
				t.Helper()
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
			check("at start (config read at start-up)", map[string]bool{"sandbox-test": false, "other-agent": true})

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
			check("before SIGHUP (the ticker must not have seen the rewrite)", map[string]bool{"sandbox-test": false, "other-agent": true})

			if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
				t.Fatal(err)
			}
			for deadline := time.Now().Add(5 * time.Second); !strings.Contains(p.Stderr.String(), tc.wantLog); {
				if time.Now().After(deadline) {
					t.Fatalf("no %q in the log within 5 s of SIGHUP:\n%s", tc.wantLog, p.Stderr)
				}
				time.Sleep(50 * time.Millisecond)
			}
			log := p.Stderr.String()
			if tc.wantLog == badLog && !strings.Contains(log, cfg) {
				t.Errorf("the reload error does not name the config file %s:\n%s", cfg, log)
			}
			if strings.Contains(log, "permission denied") {
				t.Errorf("the config file is not readable under the sandbox:\n%s", log)
			}
			check("after SIGHUP", tc.revoked)
			// And it stays that way: nothing else reloads it behind our back.
			time.Sleep(1500 * time.Millisecond)
			check("1.5 s after SIGHUP", tc.revoked)
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
