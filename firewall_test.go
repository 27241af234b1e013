// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"
)

// TestFirewallToolsUnderSandbox runs the firewall tools in the real
// binary under the enforced sandbox, with a webhook that approves every
// critical call: a rule is added to table inet tailops (nft itself sees
// it), listed, and deleted, and a drop rule on the server's own listener
// port is refused. The test binary runs in a network namespace of its own
// (TestMain), so the host's ruleset is never touched.
func TestFirewallToolsUnderSandbox(t *testing.T) {
	if out, err := exec.Command("nft", "flush", "ruleset").CombinedOutput(); err != nil {
		t.Fatalf("nft flush ruleset (in the test's namespace): %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("nft", "flush", "ruleset").Run() })
	hook, secret := approvingWebhook(t)
	p := runBinaryEnv(t, nil, binPath, "--firewall", "--approval-webhook", hook, "--approval-webhook-secret-file", secret)
	if !p.waitLog("sandbox applied") {
		t.Fatalf("the sandbox is not applied:\n%s", p.Stderr)
	}
	cs := sdkSession(t, p.URL, p.token(t, "security:write"))
	text, isErr := callText(t, cs, "add_firewall_rule", map[string]any{"chain": "input", "protocol": "tcp", "dport": "2222", "verdict": "drop"})
	if isErr {
		t.Fatalf("add_firewall_rule under the sandbox: %s", text)
	}
	var added struct {
		Handle uint64
		ID     string
	}
	json.Unmarshal([]byte(text), &added)
	out, err := exec.Command("nft", "list", "table", "inet", "tailops").CombinedOutput()
	if err != nil || !strings.Contains(string(out), `tcp dport 2222 counter packets 0 bytes 0 drop comment "tailops:`+added.ID+`"`) {
		t.Errorf("nft does not list the added rule (%v):\n%s", err, out)
	}
	if text, isErr := callText(t, cs, "get_firewall_rules", nil); isErr || !strings.Contains(text, "tcp dport 2222") {
		t.Errorf("get_firewall_rules under the sandbox: %s", text)
	}
	own := strconv.Itoa(port(t, p.URL))
	if text, isErr := callText(t, cs, "add_firewall_rule", map[string]any{"chain": "input", "protocol": "tcp", "dport": own, "verdict": "reject"}); !isErr ||
		!strings.Contains(text, "TCP port "+own+", TailOps' own listener") {
		t.Errorf("a reject on the server's own port %s: %s", own, text)
	}
	if text, isErr := callText(t, cs, "delete_firewall_rule", map[string]any{"handle": added.Handle}); isErr {
		t.Errorf("delete_firewall_rule under the sandbox: %s", text)
	}
	if out, _ := exec.Command("nft", "list", "table", "inet", "tailops").CombinedOutput(); strings.Contains(string(out), "2222") {
		t.Errorf("the rule is still there:\n%s", out)
	}
}

// TestFirewallToolsAreOffByDefault: without --firewall the tools are not
// offered, and naming one in --tools says how to turn them on.
func TestFirewallToolsAreOffByDefault(t *testing.T) {
	p := runBinary(t, binPath)
	cs := sdkSession(t, p.URL, p.token(t, "admin"))
	lt, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, tool := range lt.Tools {
		if strings.Contains(tool.Name, "firewall") {
			t.Errorf("%s is offered without --firewall", tool.Name)
		}
	}
	if _, err := cs.CallTool(context.Background(), &sdk.CallToolParams{Name: "get_firewall_rules"}); err == nil || !strings.Contains(err.Error(), "not found") {
		t.Errorf("get_firewall_rules without --firewall: %v", err)
	}
	_, stderr, code := tailops(t, nil, "serve", "--state-dir", t.TempDir(), "--tools", "get_firewall_rules")
	if code == 0 || !strings.Contains(stderr, "--firewall") {
		t.Errorf("--tools get_firewall_rules without --firewall: exit %d: %s", code, stderr)
	}
}
