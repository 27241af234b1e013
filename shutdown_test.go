// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/labtest"
)

// TestShutdownDrainsCallsAndRollsBack sends SIGTERM to the sandboxed
// binary while update_container (critical: approved by a webhook) is
// watching the new container of a real dockerd, over both transports.
// The started record must be durable while the call runs; the server must
// stop taking calls at once, let the call finish within --shutdown-timeout
// or else cancel it so it rolls back, write its result record (same request
// id, with the approval reference) and a server_stop record, and only then
// exit, with `tailops audit verify` passing and the container either fully
// updated or fully rolled back.
func TestShutdownDrainsCallsAndRollsBack(t *testing.T) {
	d := labtest.StartDockerd(t)
	hook, secretFile := approvingWebhook(t)
	for _, tc := range []struct {
		name  string
		stdio bool
		// timeout is --shutdown-timeout.
		timeout string
		// health makes the new container's health check never pass in
		// time, so the update would wait for minutes.
		health []string
		// rolledBack: the call is cancelled and rolls back; else it
		// completes within the timeout.
		rolledBack bool
	}{
		{name: "http, cancelled after the timeout", timeout: "2s", rolledBack: true,
			health: []string{"--health-cmd", "true", "--health-interval", "60s", "--health-start-period", "60s"}},
		{name: "stdio, completes within the timeout", stdio: true, timeout: "60s"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := "sd-" + strings.Fields(tc.name)[0][:4]
			ref := "local/" + name + ":latest"
			d.Image(t, labtest.ImageSpec{Name: ref, Busybox: true, Files: map[string]string{"/etc/version": "1"}, Changes: []string{`CMD ["/bin/sh"]`}})
			old := d.Run(t, append(append([]string{"--name", name, "--init"}, tc.health...), ref, "sleep", "100000")...)
			t.Cleanup(func() { d.Remove(name); d.Remove(name + "-tailops-old-" + old[:12]) })
			d.Image(t, labtest.ImageSpec{Name: ref, Busybox: true, Files: map[string]string{"/etc/version": "2"}, Changes: []string{`CMD ["/bin/sh"]`}})

			state := t.TempDir()
			logPath := filepath.Join(state, "audit", "audit.log")
			args := []string{"--shutdown-timeout", tc.timeout, "--tools", "update_container,health_check",
				"--approval-webhook", hook, "--approval-webhook-secret-file", secretFile}
			srv := startForShutdown(t, tc.stdio, d.Host, state, args)

			done := make(chan *sdk.CallToolResult, 1)
			go func() {
				res, err := srv.cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "update_container",
					Arguments: map[string]any{"container": name, "pull": false, "timeout": 120}})
				if err != nil {
					res = &sdk.CallToolResult{IsError: true, Content: []sdk.Content{&sdk.TextContent{Text: "protocol error: " + err.Error()}}}
				}
				done <- res
			}()
			// The started record is durable before the tool acts: it is
			// in the log while the new container runs.
			waitUntil(t, "the new container to run", 30*time.Second, func() bool {
				c, err := d.Client().ContainerInspect(context.Background(), name)
				return err == nil && c.ID != old && c.State.Running
			})
			started := findRecord(readAuditLog(t, logPath), string(audit.EventToolCallStarted), "update_container", "")
			if started == nil || started["approval"] == nil || started["decision"] != string(audit.DecisionAllowed) {
				t.Fatalf("no durable started record with its approval while update_container runs: %v", started)
			}

			if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
				t.Fatal(err)
			}
			// No new calls once shutdown has begun, while this one runs.
			refused := srv.refusesNewCalls(t)
			select {
			case res := <-done:
				t.Fatalf("update_container returned before new calls were refused: %v", res)
			default:
			}
			if refused != "" {
				t.Errorf("a new call during shutdown: %s", refused)
			}

			var res *sdk.CallToolResult
			select {
			case res = <-done:
			case <-time.After(90 * time.Second):
				t.Fatal("update_container did not return after SIGTERM")
			}
			text := res.Content[0].(*sdk.TextContent).Text
			exit := srv.wait(t)
			if exit != 0 {
				t.Errorf("exit status %d after SIGTERM:\n%s", exit, srv.stderr)
			}

			cur, err := d.Client().ContainerInspect(context.Background(), name)
			if err != nil {
				t.Fatal(err)
			}
			if tc.rolledBack {
				if !res.IsError || !strings.Contains(text, "the server is shutting down") || !strings.HasSuffix(text, "is running again under its name") {
					t.Errorf("update cancelled at shutdown: %q, want a rollback", text)
				}
				if cur.ID != old || !cur.State.Running {
					t.Errorf("after the rollback %s is %s (running %v), want the old %s running", name, cur.ID, cur.State.Running, old)
				}
			} else {
				if res.IsError {
					t.Errorf("update within the shutdown timeout failed: %q", text)
				}
				if cur.ID == old || !cur.State.Running {
					t.Errorf("after the update %s is %s (running %v), want a new container running", name, cur.ID, cur.State.Running)
				}
			}
			if out := d.Docker(t, "ps", "-a", "-q", "--filter", "name="+name); len(strings.Fields(out)) != 1 {
				t.Errorf("containers named like %s: %q, want one", name, out)
			}

			recs := readAuditLog(t, logPath)
			result := findRecord(recs, string(audit.EventToolCall), "update_container", started["request_id"].(string))
			wantResult := audit.ResultSuccess
			if tc.rolledBack {
				wantResult = audit.ResultError
			}
			if result == nil || result["result"] != string(wantResult) || result["approval"] == nil ||
				(tc.rolledBack && !strings.Contains(fmt.Sprint(result["error"]), "rolled back")) {
				t.Errorf("result record for request %v = %v, want result %s with the approval", started["request_id"], result, wantResult)
			}
			last := recs[len(recs)-1]
			cancelled := map[bool]string{true: "cancelled after the shutdown timeout: 1", false: "cancelled after the shutdown timeout: 0"}[tc.rolledBack]
			// Over stdio, a health_check refusesNewCalls sent before the
			// signal was handled may be in flight too (it ran); over HTTP
			// only the update is.
			var inFlight int
			if _, after, ok := strings.Cut(fmt.Sprint(last["reason"]), "calls in flight at shutdown: "); ok {
				fmt.Sscanf(after, "%d", &inFlight)
			}
			if last["event"] != string(audit.EventServerStop) || inFlight < 1 || (!tc.stdio && inFlight != 1) ||
				!strings.Contains(fmt.Sprint(last["reason"]), cancelled) {
				t.Errorf("last record = %v, want server_stop with the call counted (%s)", last, cancelled)
			}
			if out, stderr, code := tailops(t, nil, "audit", "verify", logPath); code != 0 {
				t.Errorf("audit verify after shutdown: exit %d %s %s", code, out, stderr)
			}
		})
	}
}

// shutdownServer is the binary under test and a client session with it.
type shutdownServer struct {
	cmd    *exec.Cmd
	cs     *sdk.ClientSession
	url    string // "" with stdio
	stderr *syncBuffer
	exited chan struct{}
}

// startForShutdown runs the sandboxed binary over HTTP (with an admin
// token) or stdio (with admin stdio scopes) and connects a client.
func startForShutdown(t *testing.T, stdio bool, dockerHost, state string, args []string) *shutdownServer {
	t.Helper()
	s := &shutdownServer{stderr: &syncBuffer{}, exited: make(chan struct{})}
	args = append([]string{"serve", "--state-dir", state}, args...)
	var stdin, stdout *os.File // the client's ends of the stdio pipes
	if stdio {
		args = append(args, "--stdio", "--stdio-scopes", "admin")
		var err error
		var in, out *os.File
		if in, stdin, err = os.Pipe(); err != nil {
			t.Fatal(err)
		}
		if stdout, out, err = os.Pipe(); err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		defer out.Close()
		s.cmd = exec.Command(binPath, args...)
		s.cmd.Stdin, s.cmd.Stdout = in, out
	} else {
		s.url = fmt.Sprintf("http://127.0.0.1:%d", freePort(t))
		s.cmd = exec.Command(binPath, append(args, "--listen", strings.TrimPrefix(s.url, "http://"))...)
	}
	s.cmd.Env = append(os.Environ(), "DOCKER_HOST="+dockerHost)
	s.cmd.Stderr = s.stderr
	if err := s.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { s.cmd.Wait(); close(s.exited) }()
	t.Cleanup(func() {
		select {
		case <-s.exited:
		default:
			s.cmd.Process.Kill()
			<-s.exited
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c := sdk.NewClient(&sdk.Implementation{Name: "shutdown-test", Version: "1"}, nil)
	if stdio {
		cs, err := c.Connect(ctx, &sdk.IOTransport{Reader: stdout, Writer: stdin}, nil)
		if err != nil {
			t.Fatalf("connecting to the stdio server: %v\n%s", err, s.stderr)
		}
		s.cs = cs
		t.Cleanup(func() { cs.Close() })
		return s
	}
	waitUntil(t, "the server to serve /healthz", 10*time.Second, func() bool {
		code, err := httpGet(s.url + "/healthz")
		return err == nil && code == 200
	})
	tok, stderr, code := tailops(t, nil, "token", "mint", "--state-dir", state, "--agent", "shutdown-test", "--scopes", "admin")
	if code != 0 {
		t.Fatalf("mint: %s", stderr)
	}
	s.cs = sdkSession(t, s.url, strings.TrimSpace(tok))
	return s
}

// refusesNewCalls checks, once the server got SIGTERM, that a new call
// is refused at once: over HTTP the listener is closed, over stdio the
// call is refused saying why. It returns what went wrong, or "".
func (s *shutdownServer) refusesNewCalls(t *testing.T) string {
	t.Helper()
	if s.url != "" {
		for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
			if _, err := httpGet(s.url + "/healthz"); err != nil {
				return ""
			}
		}
		return "the server still accepts connections a second after SIGTERM"
	}
	// Calls made before the signal is handled may run; none after.
	var text string
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		res, err := s.cs.CallTool(ctx, &sdk.CallToolParams{Name: "health_check"})
		cancel()
		if err != nil {
			return err.Error()
		}
		if text = res.Content[0].(*sdk.TextContent).Text; res.IsError && strings.Contains(text, "the server is shutting down") {
			return ""
		}
	}
	return fmt.Sprintf("health_check 5 s after SIGTERM: %q, want a refusal", text)
}

// wait waits for the server to exit and returns its exit status.
func (s *shutdownServer) wait(t *testing.T) int {
	t.Helper()
	select {
	case <-s.exited:
	case <-time.After(60 * time.Second):
		t.Fatalf("the server did not exit after SIGTERM:\n%s", s.stderr)
	}
	return s.cmd.ProcessState.ExitCode()
}

// approvingWebhook is an approval webhook that approves every request; it
// returns its URL and the file holding its secret.
func approvingWebhook(t *testing.T) (string, string) {
	t.Helper()
	secretFile := filepath.Join(t.TempDir(), "secret")
	if err := os.WriteFile(secretFile, []byte("webhook-secret-for-tests-0123456789"), 0o600); err != nil {
		t.Fatal(err)
	}
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var req struct{ ID string }
		json.NewDecoder(r.Body).Decode(&req)
		json.NewEncoder(w).Encode(map[string]any{"id": req.ID, "approved": true, "reason": "test", "approver": "hook"})
	}))
	t.Cleanup(hook.Close)
	return hook.URL, secretFile
}

// findRecord returns the last record of event for tool and request id
// (either may be empty: any), or nil.
func findRecord(recs []map[string]any, event, tool, requestID string) map[string]any {
	for i := len(recs) - 1; i >= 0; i-- {
		r := recs[i]
		if r["event"] == event && (tool == "" || r["tool"] == tool) && (requestID == "" || r["request_id"] == requestID) {
			return r
		}
	}
	return nil
}

// waitUntil polls cond until it holds, failing the test after timeout.
func waitUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(timeout); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
