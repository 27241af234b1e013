// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	mcpgo "github.com/mark3labs/mcp-go/mcp"
	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/labtest"
)

// fleetConfirm is what checkFleetConfirm needs of TestFleet: the entry
// node and member-one (which confirms restart_container in the client),
// the daemon member-one runs containers on, alice's node and her token
// (empty in tailscale mode).
type fleetConfirm struct {
	mode      string
	entry, m1 *tsServer
	d         *labtest.Dockerd
	alice     *labtest.Node
	tokA      string
}

// checkFleetConfirm: a high-risk call member-one confirms in the client,
// made through the entry node, runs there only after the user's explicit
// yes. A 2026-07-28 client (the Go SDK's default) gets the member's
// question (input_required) and retries with the answer: yes restarts
// the container, and both nodes record the confirmation; no restarts
// nothing. A client on 2025-11-25 (a session) is asked by the entry node,
// naming the member, and its yes runs the call; one that cannot elicit is
// refused. In token mode another caller cannot use alice's request state
// through the entry node.
func checkFleetConfirm(t *testing.T, fc fleetConfirm) {
	t.Helper()
	name := "fleet-web-" + fc.mode
	fc.d.Run(t, "--name", name, fc.d.BusyboxImage(t, "local/busybox:latest"), "sleep", "3600")
	// timeout 0: sleep ignores the stop signal, and waiting for it is not the point.
	args := map[string]any{"container": name, "timeout": 0, "node": "member-one"}
	yes := &sdk.ElicitResult{Action: "accept", Content: map[string]any{"confirm": true}}
	for _, tc := range []struct {
		name        string
		protocol    string            // empty: the SDK's default, 2026-07-28
		answer      *sdk.ElicitResult // nil: no elicitation handler
		wantAsked   string
		wantConfirm string // on both nodes; empty: not asked
	}{
		{"modern-yes", "", yes, "restart_container", "confirmed"},
		{"modern-no", "", &sdk.ElicitResult{Action: "decline"}, "restart_container", "declined"},
		{"legacy-yes", legacyProtocol, yes, `on fleet member "member-one"`, "confirmed"},
		{"legacy-cannot-ask", legacyProtocol, nil, "", ""},
	} {
		started := fc.d.Docker(t, "inspect", "-f", "{{.State.StartedAt}}", name)
		var asked []string
		cs := connectConfirming(t, fc.entry.TailnetURL, via(fc.alice, fc.tokA), tc.protocol, tc.answer, &asked)
		text, isErr, _ := fleetCall(t, cs, "restart_container", args)
		cs.Close()
		run := tc.wantConfirm == "confirmed"
		if isErr == run {
			t.Errorf("%s: %v %s, want run: %v", tc.name, isErr, text, run)
		}
		if tc.answer != nil && (len(asked) != 1 || !strings.Contains(asked[0], tc.wantAsked) || !strings.Contains(asked[0], name)) {
			t.Errorf("%s: asked %q, want once, with %q and the container", tc.name, asked, tc.wantAsked)
		}
		if restarted := fc.d.Docker(t, "inspect", "-f", "{{.State.StartedAt}}", name) != started; restarted != run {
			t.Errorf("%s: the container restarted: %v, want %v", tc.name, restarted, run)
		}
		rec, fwd := lastRecord(t, fc.m1, "tool_call", "restart_container"), lastRecord(t, fc.entry, "tool_call_forwarded", "restart_container")
		if tc.wantConfirm != "" && (rec["confirmation"] != tc.wantConfirm || fwd["confirmation"] != tc.wantConfirm) {
			t.Errorf("%s: confirmation recorded %v on the member, %v on the entry; want %s on both", tc.name, rec["confirmation"], fwd["confirmation"], tc.wantConfirm)
		}
		if want := map[bool]string{true: "success", false: "denied"}[run]; rec["result"] != want {
			t.Errorf("%s: the member recorded %v, want %s", tc.name, rec["result"], want)
		}
	}
	if fc.mode == "token" {
		checkStateNotReusable(t, fc, args)
	}
}

// checkStateNotReusable: a request state member-one issued for alice's
// call, through the entry node, confirms nothing for another caller (an
// admin token of its own) sending the same call with a yes: member-one
// asks that caller again, and nothing runs.
func checkStateNotReusable(t *testing.T, fc fleetConfirm, args map[string]any) {
	t.Helper()
	first := modernFleetCall(t, fc.entry, via(fc.alice, fc.tokA), args, nil, "")
	state, _ := first["requestState"].(string)
	if first["resultType"] != "input_required" || state == "" {
		t.Fatalf("alice's call: %v, want input_required with the member's state", first)
	}
	before := len(fc.m1.records(t, "tool_call_started"))
	yes := map[string]any{"confirm": map[string]any{"action": "accept", "content": map[string]any{"confirm": true}}}
	other := via(fc.alice, fc.entry.mint(t, "mallory-agent", auth.ScopeAdmin))
	if got := modernFleetCall(t, fc.entry, other, args, yes, state); got["resultType"] != "input_required" || got["requestState"] == state {
		t.Errorf("another caller with alice's state: %v, want asked again", got)
	}
	if after := len(fc.m1.records(t, "tool_call_started")); after != before {
		t.Errorf("member-one started %d calls on another caller's state", after-before)
	}
}

// connectConfirming opens a Go SDK session to url over rt on protocol
// (empty: the SDK's default), answering elicitations with answer and
// keeping their messages in asked (nil answer: no elicitation handler).
func connectConfirming(t *testing.T, url string, rt http.RoundTripper, protocol string, answer *sdk.ElicitResult, asked *[]string) *sdk.ClientSession {
	t.Helper()
	opts := &sdk.ClientOptions{}
	if answer != nil {
		opts.ElicitationHandler = func(_ context.Context, req *sdk.ElicitRequest) (*sdk.ElicitResult, error) {
			*asked = append(*asked, req.Params.Message)
			return answer, nil
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cs, err := sdk.NewClient(&sdk.Implementation{Name: "go-sdk-fleet-confirm", Version: "1"}, opts).Connect(ctx,
		&sdk.StreamableClientTransport{Endpoint: url + "/mcp", HTTPClient: &http.Client{Transport: rt}, DisableStandaloneSSE: true},
		&sdk.ClientSessionOptions{ProtocolVersion: protocol})
	if err != nil {
		t.Fatalf("connecting to %s on %q: %v", url, protocol, err)
	}
	return cs
}

// modernFleetCall posts one 2026-07-28 tools/call of restart_container
// with args to the entry node over rt, declaring elicitation, with
// answers and state when set, and returns its result.
func modernFleetCall(t *testing.T, entry *tsServer, rt http.RoundTripper, args, answers map[string]any, state string) map[string]any {
	t.Helper()
	params := map[string]any{"name": "restart_container", "arguments": args, "_meta": map[string]any{
		mcpgo.MetaKeyProtocolVersion: mcpgo.LATEST_PROTOCOL_VERSION, mcpgo.MetaKeyClientCapabilities: map[string]any{"elicitation": map[string]any{}},
		mcpgo.MetaKeyClientInfo: map[string]any{"name": "raw", "version": "1"}}}
	if answers != nil {
		params["inputResponses"], params["requestState"] = answers, state
	}
	encoded, _ := json.Marshal(params)
	body, _ := json.Marshal(map[string]any{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": json.RawMessage(encoded)})
	req, _ := http.NewRequestWithContext(t.Context(), http.MethodPost, entry.TailnetURL+"/mcp", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("MCP-Protocol-Version", mcpgo.LATEST_PROTOCOL_VERSION)
	for k, v := range mcpgo.StandardHeaders(mcpgo.LATEST_PROTOCOL_VERSION, mcpgo.MethodToolsCall, encoded) {
		req.Header.Set(k, v)
	}
	resp, err := (&http.Client{Transport: rt, Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	res, _ := decodeRPC(t, resp)["result"].(map[string]any)
	if res == nil {
		t.Fatalf("response %s without a result", resp.Status)
	}
	return res
}
