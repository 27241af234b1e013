// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tailops/tailops/labtest"
)

// TestStacksToolsUnderSandbox: with the sandbox enforced and a webhook
// that approves every request, the stacks tools deploy, update, roll back
// and remove a stack with a bind mount and a named volume from a stack
// root: the needs they declare (the engine's socket, the stack roots
// read-only, the history directory) are all compose needs.
func TestStacksToolsUnderSandbox(t *testing.T) {
	d := labtest.StartDockerd(t)
	d.BusyboxImage(t, "local/stk:v1")
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		var req struct{ ID string }
		json.Unmarshal(body, &req)
		json.NewEncoder(w).Encode(map[string]any{"id": req.ID, "approved": true, "approver": "hook"})
	}))
	defer hook.Close()
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("webhook-secret-for-tests-0123456789"), 0o600)
	root := t.TempDir()
	dir := filepath.Join(root, "sbxstack")
	os.MkdirAll(filepath.Join(dir, "data"), 0o755)
	compose := "services:\n  app:\n    image: local/stk:v1\n    pull_policy: missing\n    command: [sleep, '3600']\n" +
		"    volumes: ['./data:/data', 'kept:/kept']\n    environment: ['LEVEL=${LEVEL:-1}']\nvolumes:\n  kept: {}\n"
	os.WriteFile(filepath.Join(dir, "compose.yaml"), []byte(compose), 0o644)
	p := runBinaryEnv(t, []string{"DOCKER_HOST=" + d.Host}, binPath, "--stack-root", root,
		"--approval-webhook", hook.URL, "--approval-webhook-secret-file", secret)
	if !p.waitLog("sandbox applied") {
		t.Fatalf("the sandbox is not applied:\n%s", p.Stderr)
	}
	cs := sdkSession(t, p.URL, p.token(t, "admin"))
	var first struct{ Deployment string }
	for _, c := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"deploy_stack", map[string]any{"name": "sbxstack"}, `"deployment"`},
		{"get_stack_status", map[string]any{"name": "sbxstack"}, `"state": "running"`},
		{"get_stack_compose", map[string]any{"name": "sbxstack"}, "policy: ok"},
		{"update_stack", map[string]any{"name": "sbxstack", "env": map[string]any{"LEVEL": "2"}}, `+             LEVEL: \"2\"`},
		{"rollback_stack", map[string]any{"name": "sbxstack"}, `"deployment"`},
		{"get_stack_history", map[string]any{"name": "sbxstack"}, `"action": "rollback"`},
		{"remove_stack", map[string]any{"name": "sbxstack", "volumes": true}, `"volumes_removed": true`},
	} {
		if c.tool == "rollback_stack" {
			c.args["deployment"] = first.Deployment
		}
		text, isErr := callText(t, cs, c.tool, c.args)
		if isErr || !strings.Contains(text, c.want) {
			t.Fatalf("%s under the sandbox: %s", c.tool, text)
		}
		if c.tool == "deploy_stack" {
			json.Unmarshal([]byte(text), &first)
		}
	}
	// The stack's resolved configuration, read as a resource under the
	// sandbox.
	if res, err := cs.ReadResource(context.Background(), &sdk.ReadResourceParams{URI: "tailops://stacks/sbxstack/compose"}); err != nil ||
		!strings.Contains(res.Contents[0].Text, "LEVEL: \"1\"") {
		t.Errorf("tailops://stacks/sbxstack/compose under the sandbox: %+v, %v", res, err)
	}
	if out := d.Docker(t, "ps", "-aq", "--filter", "label=com.docker.compose.project=sbxstack"); out != "" {
		t.Errorf("containers left: %s", out)
	}
}
