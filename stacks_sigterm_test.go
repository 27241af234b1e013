// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/labtest"
	"github.com/tailops/tailops/server"
)

// TestStacksSIGTERMDuringDeploy sends SIGTERM to the sandboxed binary
// while deploy_stack (approved by a webhook) waits for a container whose
// health check will not pass for a minute. With --shutdown-timeout 2s the
// server cancels the deploy, and must then exit within that timeout and
// its cleanup grace; the stack's history must record the deployment as
// interrupted (not ok) and the audit log the call's error, both saying
// the server was shutting down; and a server started again on the same
// state directory must describe the stack as it really is: its container
// running (health starting), managed, with the interrupted deployment in
// its history.
func TestStacksSIGTERMDuringDeploy(t *testing.T) {
	d := labtest.StartDockerd(t)
	d.BusyboxImage(t, "local/sigstk:v1")
	hook, secretFile := approvingWebhook(t)
	const name = "sigstk"
	root := t.TempDir()
	compose := "services:\n  app:\n    image: local/sigstk:v1\n    pull_policy: missing\n    init: true\n    command: [sleep, '3600']\n" +
		"    healthcheck: {test: [CMD, 'true'], interval: 60s, start_period: 60s}\n"
	if err := os.MkdirAll(filepath.Join(root, name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, name, "compose.yaml"), []byte(compose), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { d.Remove(name + "-app-1") })
	state := t.TempDir()
	logPath := filepath.Join(state, "audit", "audit.log")
	const timeout = 2 * time.Second
	args := []string{"--shutdown-timeout", timeout.String(), "--stack-root", root,
		"--tools", "deploy_stack,get_stack_status,list_stacks,get_stack_history,health_check",
		"--approval-webhook", hook, "--approval-webhook-secret-file", secretFile}
	srv := startForShutdown(t, false, d.Host, state, args)

	done := make(chan *sdk.CallToolResult, 1)
	go func() {
		res, err := srv.cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "deploy_stack", Arguments: map[string]any{"name": name}})
		if err != nil {
			res = &sdk.CallToolResult{IsError: true, Content: []sdk.Content{&sdk.TextContent{Text: "protocol error: " + err.Error()}}}
		}
		done <- res
	}()
	// Compose has created and started the container and waits for it to
	// be healthy.
	waitUntil(t, "the stack's container to run", 60*time.Second, func() bool {
		c, err := d.Client().ContainerInspect(context.Background(), name+"-app-1")
		return err == nil && c.State.Running
	})
	select {
	case res := <-done:
		t.Fatalf("deploy_stack returned before its container was healthy: %v", res.Content[0].(*sdk.TextContent).Text)
	default:
	}
	signalled := time.Now()
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var res *sdk.CallToolResult
	select {
	case res = <-done:
	case <-time.After(timeout + server.CleanupGrace + 10*time.Second):
		t.Fatal("deploy_stack did not return after SIGTERM")
	}
	text := res.Content[0].(*sdk.TextContent).Text
	if exit := srv.wait(t); exit != 0 {
		t.Errorf("exit status %d after SIGTERM:\n%s", exit, srv.stderr)
	}
	if took, most := time.Since(signalled), timeout+server.CleanupGrace; took > most {
		t.Errorf("the server exited %s after SIGTERM, more than --shutdown-timeout and the cleanup grace (%s)", took, most)
	}
	if !res.IsError || !strings.Contains(text, "the server is shutting down") {
		t.Errorf("deploy_stack cancelled at shutdown: %q, want an error saying the server is shutting down", text)
	}

	// The history, as written on disk before the server exited.
	var hist []struct{ Action, Result, Error string }
	b, err := os.ReadFile(filepath.Join(state, "stacks", name+".json"))
	if err == nil {
		err = json.Unmarshal(b, &hist)
	}
	if err != nil || len(hist) != 1 || hist[0].Action != "deploy" || hist[0].Result != "interrupted" ||
		!strings.Contains(hist[0].Error, "the server is shutting down") {
		t.Fatalf("history after SIGTERM: %+v (%v), want one deploy, interrupted, saying why", hist, err)
	}

	// The audit log: the call's outcome, an error that says why, then
	// server_stop counting it as cancelled.
	recs := readAuditLog(t, logPath)
	started := findRecord(recs, string(audit.EventToolCallStarted), "deploy_stack", "")
	if started == nil {
		t.Fatal("no started record for deploy_stack")
	}
	result := findRecord(recs, string(audit.EventToolCall), "deploy_stack", started["request_id"].(string))
	if result == nil || result["result"] != string(audit.ResultError) || !strings.Contains(fmt.Sprint(result["error"]), "the server is shutting down") ||
		!strings.Contains(fmt.Sprint(result["error"]), "deploy was cancelled") || result["approval"] == nil {
		t.Errorf("deploy_stack's result record: %v", result)
	}
	if last := recs[len(recs)-1]; last["event"] != string(audit.EventServerStop) ||
		!strings.Contains(fmt.Sprint(last["reason"]), "cancelled after the shutdown timeout: 1") {
		t.Errorf("last record: %v, want server_stop with the deploy cancelled", last)
	}
	if out, stderr, code := tailops(t, nil, "audit", "verify", logPath); code != 0 {
		t.Errorf("audit verify after shutdown: exit %d %s %s", code, out, stderr)
	}

	// Started again, the server describes the stack as the engine has it.
	again := startForShutdown(t, false, d.Host, state, args)
	for _, c := range []struct {
		tool string
		want []string
	}{
		{"get_stack_status", []string{`"managed": true`, `"state": "running"`, `"health": "starting"`}},
		{"list_stacks", []string{`"name": "sigstk"`, `"managed": true`, `"running": 1`}},
		{"get_stack_history", []string{`"result": "interrupted"`, "the server is shutting down"}},
	} {
		args := map[string]any{"name": name}
		if c.tool == "list_stacks" {
			args = nil
		}
		text, isErr := callText(t, again.cs, c.tool, args)
		for _, w := range c.want {
			if isErr || !strings.Contains(text, w) {
				t.Errorf("%s after the restart: want %s in\n%s", c.tool, w, text)
			}
		}
	}
	if err := again.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	again.wait(t)
}
