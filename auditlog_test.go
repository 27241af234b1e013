// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/labtest"
)

// TestInvalidArgumentsAreAuditedAsRefusals: a call refused for invalid
// arguments ran nothing, and its one record says so (decision denied,
// reason invalid arguments) whatever the tool's risk; a critical call
// creates no approval request and a mutating one no started record.
func TestInvalidArgumentsAreAuditedAsRefusals(t *testing.T) {
	s := startServer(t)
	cs := sdkSession(t, s.URL, s.token(t, "admin-bot", auth.ScopeAdmin))
	for _, tc := range []struct {
		tool string
		risk string
		args map[string]any
	}{
		{"remove_container", "critical", map[string]any{"container": 5}},
		{"update_container", "critical", map[string]any{"container": "web", "bogus": true}},
		{"stop_container", "high", map[string]any{"container": "web", "timeout": "soon"}},
		{"get_top_processes", "low", map[string]any{"limit": "ten"}},
	} {
		before := len(s.auditRecords(t))
		text, isErr := callText(t, cs, tc.tool, tc.args)
		if !isErr || !strings.Contains(text, "invalid argument") {
			t.Errorf("%s %v: %v %q, want an invalid-argument error", tc.tool, tc.args, isErr, text)
		}
		recs := s.auditRecords(t)[before:]
		if len(recs) != 1 {
			t.Errorf("%s: %d records for one refused call, want 1: %v", tc.tool, len(recs), recs)
			continue
		}
		r := recs[0]
		if r["event"] != string(audit.EventToolCall) || r["tool"] != tc.tool || r["risk"] != tc.risk || r["decision"] != string(audit.DecisionDenied) ||
			r["result"] != string(audit.ResultDenied) || !strings.HasPrefix(fmt.Sprint(r["reason"]), "invalid arguments: ") || r["approval"] != nil {
			t.Errorf("%s: record %v, want a refusal for invalid arguments", tc.tool, r)
		}
	}
}

// TestAuditLogRemovedRenamedOrReplacedFailsClosed: when the audit log is
// removed, renamed or replaced under the running server, /readyz turns 503
// and calls are refused naming the audit log at once, before any record
// goes to a file nobody reads at that path. Renamed back, the log is
// taken up again by itself: calls run, and the chain, with a record of
// the outage, verifies.
func TestAuditLogRemovedRenamedOrReplacedFailsClosed(t *testing.T) {
	for _, tc := range []struct {
		name    string
		damage  func(t *testing.T, path string)
		restore func(t *testing.T, path string)
	}{
		{"removed", func(t *testing.T, path string) { mustDo(t, os.Remove(path)) }, nil},
		{"renamed", func(t *testing.T, path string) { mustDo(t, os.Rename(path, path+".old")) },
			func(t *testing.T, path string) { mustDo(t, os.Rename(path+".old", path)) }},
		{"replaced", func(t *testing.T, path string) {
			mustDo(t, os.WriteFile(path+".new", nil, 0o600))
			mustDo(t, os.Rename(path+".new", path))
		}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, "--audit-log", filepath.Join(t.TempDir(), "audit.log"))
			cs := sdkSession(t, s.URL, s.token(t, "bot", auth.ScopeReadonly))
			if text, isErr := callText(t, cs, "health_check", nil); isErr {
				t.Fatalf("health_check: %s", text)
			}
			tc.damage(t, s.AuditLog)
			if code, err := httpGet(s.URL + "/readyz"); err != nil || code != 503 {
				t.Errorf("/readyz once the audit log was %s = %d %v, want 503", tc.name, code, err)
			}
			text, isErr := callText(t, cs, "health_check", nil)
			if !isErr || !strings.Contains(text, "the audit log cannot be written") {
				t.Errorf("a call once the audit log was %s: %v %q, want it refused naming the audit log", tc.name, isErr, text)
			}
			if !strings.Contains(s.Logs.String(), "while it was being written") {
				t.Errorf("the server's log does not say what happened to the audit log:\n%s", s.Logs)
			}
			if tc.restore == nil {
				return
			}
			var calls int
			for _, r := range readAuditLog(t, s.AuditLog+".old") {
				if r["event"] == string(audit.EventToolCall) {
					calls++
				}
			}
			if calls != 1 {
				t.Errorf("the renamed log holds %d call records, want only the first call's", calls)
			}
			tc.restore(t, s.AuditLog)
			waitUntil(t, "calls to run again", 5*time.Second, func() bool {
				_, isErr := callText(t, cs, "health_check", nil)
				return !isErr
			})
			if code, err := httpGet(s.URL + "/readyz"); err != nil || code != 200 {
				t.Errorf("/readyz after the log was restored = %d %v, want 200", code, err)
			}
			if findRecord(s.auditRecords(t), string(audit.EventLogRecovered), "", "") == nil {
				t.Error("no log_recovered record after the outage")
			}
			if n, p, err := audit.Verify(s.AuditLog); err != nil || p != nil {
				t.Errorf("verify after recovery: %d %v %v", n, p, err)
			}
		})
	}
}

// TestFullAuditDiskRunsNothingAndRecovers fills the real file system that
// holds the sandboxed binary's audit log. A stop_container whose started
// record cannot be written must not run (the container keeps running) and
// must leave no record claiming it did; once space is back, calls run
// again without a restart, and the log records the outage and verifies.
// The caller's agent name is longer than a page, so every record of its
// calls needs a page the full tmpfs does not have (the last page's slack
// cannot hide a record).
func TestFullAuditDiskRunsNothingAndRecovers(t *testing.T) {
	d := labtest.StartDockerd(t)
	web := d.Run(t, "--name", "fd-web", "--init", d.BusyboxImage(t, "local/busybox:latest"), "sleep", "100000")
	mnt := labtest.Tmpfs(t, "256k")
	logPath := filepath.Join(mnt, "audit.log")
	p := runBinaryEnv(t, []string{"DOCKER_HOST=" + d.Host}, binPath, "--audit-log", logPath,
		"--tools", "stop_container,health_check")
	agent := "filler-" + strings.Repeat("x", 4200)
	tok, stderr, code := tailops(t, nil, "token", "mint", "--state-dir", p.State, "--agent", agent, "--scopes", "container:write")
	if code != 0 {
		t.Fatalf("mint: %s", stderr)
	}
	cs := sdkSession(t, p.URL, strings.TrimSpace(tok))
	if text, isErr := callText(t, cs, "health_check", nil); isErr {
		t.Fatalf("health_check before the disk is full: %s", text)
	}

	filler := filepath.Join(mnt, "filler")
	labtest.Fill(t, filler)
	stop := map[string]any{"container": "fd-web", "timeout": 1}
	text, isErr := callText(t, cs, "stop_container", stop)
	if !isErr || !strings.Contains(text, "the audit log cannot be written") {
		t.Errorf("stop_container on a full audit disk: %v %q, want it refused naming the audit log", isErr, text)
	}
	// At once: a retry, a second later, may find room for its own record
	// in the last page and recover, the disk being full for bigger ones.
	if code, err := httpGet(p.URL + "/readyz"); err != nil || code != 503 {
		t.Errorf("/readyz with a full audit disk = %d %v, want 503", code, err)
	}
	if c, err := d.Client().ContainerInspect(context.Background(), web); err != nil || !c.State.Running {
		t.Fatalf("stop_container whose started record could not be written stopped the container (%v)", err)
	}
	if r := findRecord(readAuditLog(t, logPath), string(audit.EventToolCallStarted), "stop_container", ""); r != nil {
		t.Errorf("the log holds a started record for a call that did not run: %v", r)
	}

	mustDo(t, os.Remove(filler))
	waitUntil(t, "stop_container to run once space is back", 10*time.Second, func() bool {
		text, isErr = callText(t, cs, "stop_container", stop)
		return !isErr || !strings.Contains(text, "the audit log cannot be written")
	})
	if isErr {
		t.Fatalf("stop_container after space came back: %s", text)
	}
	if c, err := d.Client().ContainerInspect(context.Background(), web); err != nil || c.State.Running {
		t.Errorf("stop_container reported success but the container runs (%v)", err)
	}
	recs := readAuditLog(t, logPath)
	recovered := findRecord(recs, string(audit.EventLogRecovered), "", "")
	started := findRecord(recs, string(audit.EventToolCallStarted), "stop_container", "")
	if recovered == nil || !strings.Contains(fmt.Sprint(recovered["error"]), "no space left on device") {
		t.Errorf("no log_recovered record naming the full disk: %v", recovered)
	}
	if started == nil || findRecord(recs, string(audit.EventToolCall), "stop_container", started["request_id"].(string))["result"] != string(audit.ResultSuccess) {
		t.Errorf("stop_container after recovery lacks its started and result records: %v", started)
	}
	if out, stderr, code := tailops(t, nil, "audit", "verify", logPath); code != 0 {
		t.Errorf("audit verify across the outage: exit %d %s %s", code, out, stderr)
	}
	if code, err := httpGet(p.URL + "/readyz"); err != nil || code != 200 {
		t.Errorf("/readyz after recovery = %d %v, want 200", code, err)
	}
}

func mustDo(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
