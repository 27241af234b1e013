// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tailops/tailops/approval"
	"github.com/tailops/tailops/auth"
)

// approvalConfig writes a config file that puts health_check on the
// approval list, so the approval flow can be driven without a critical
// tool's side effects.
func approvalConfig(t *testing.T) string {
	p := filepath.Join(t.TempDir(), "config.hujson")
	os.WriteFile(p, []byte(`{"approval": ["health_check"]}`), 0o600)
	return p
}

var pendingID = regexp.MustCompile(`request ([0-9a-f]{16})`)

// TestListApprovalsShowsNoInvisibleRunes: an approver reading a request
// in list_approvals sees a bidirectional override or a zero-width space
// in its arguments as an escape, not as the rune, which would reorder or
// hide what the call runs.
func TestListApprovalsShowsNoInvisibleRunes(t *testing.T) {
	p := filepath.Join(t.TempDir(), "config.hujson")
	if err := os.WriteFile(p, []byte(`{"approval": ["read_file"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "--config", p, "--approval-two-person", "--approval-wait", "200ms")
	bot := sdkSession(t, s.URL, s.token(t, "bot", auth.ScopeAdmin))
	alice := sdkSession(t, s.URL, s.token(t, "alice", auth.ScopeApprovalsGrant))
	if text, isErr := callText(t, bot, "read_file", map[string]any{"path": "/var/log/ok\u202egol.x\u202c\u200b"}); !isErr || !pendingID.MatchString(text) {
		t.Fatalf("read_file: %v %s, want approval pending", isErr, text)
	}
	text, isErr := callText(t, alice, "list_approvals", nil)
	if isErr || strings.ContainsAny(text, "\u202e\u202c\u200b") || !strings.Contains(text, `ok\u202egol.x`) {
		t.Errorf("list_approvals shows the runes themselves, or not their escapes: %q", text)
	}
}

// TestTwoPersonApprovalOverMCPAndCLI: a call that needs approval returns
// "approval pending"; the requester cannot approve it; a second person
// approves it with approve_request; the repeated call runs once, and its
// audit record references the approval. The host CLI approves over the
// unix socket.
func TestTwoPersonApprovalOverMCPAndCLI(t *testing.T) {
	s := startServer(t, "--config", approvalConfig(t), "--approval-two-person", "--approval-wait", "200ms")
	bot := sdkSession(t, s.URL, s.token(t, "bot", auth.ScopeAdmin))
	alice := sdkSession(t, s.URL, s.token(t, "alice", auth.ScopeApprovalsGrant))

	text, isErr := callText(t, bot, "health_check", nil)
	m := pendingID.FindStringSubmatch(text)
	if !isErr || !strings.Contains(text, "approval pending") || m == nil {
		t.Fatalf("first call: %v %s", isErr, text)
	}
	id := m[1]
	if text, isErr := callText(t, bot, "approve_request", map[string]any{"id": id}); !isErr || !strings.Contains(text, "the approver is the requester") {
		t.Errorf("the requester approved its own request: %s", text)
	}
	if text, isErr := callText(t, alice, "list_approvals", nil); isErr || !strings.Contains(text, id) {
		t.Errorf("list_approvals: %s", text)
	}
	if text, isErr := callText(t, alice, "approve_request", map[string]any{"id": id, "reason": "looks fine"}); isErr {
		t.Fatalf("approve_request: %s", text)
	}
	if text, isErr := callText(t, bot, "health_check", nil); isErr {
		t.Fatalf("repeated call after approval: %s", text)
	}
	if text, isErr := callText(t, bot, "health_check", nil); !isErr || !strings.Contains(text, "approval pending") {
		t.Errorf("an approval was used twice: %s", text)
	}
	var ran map[string]any
	for _, r := range s.toolRecords(t) {
		if r["tool"] == "health_check" && r["result"] == "success" {
			ran = r
		}
	}
	ref, _ := ran["approval"].(map[string]any)
	if ref["id"] != id || ref["approver"] == nil {
		t.Errorf("the call's audit record does not reference approval %s: %v", id, ran)
	}

	// The host CLI, over the unix socket in the state dir.
	out, stderr, code := tailops(t, nil, "approvals", "list", "--state-dir", s.StateDir)
	m = regexp.MustCompile(`[0-9a-f]{16}`).FindStringSubmatch(out)
	if code != 0 || m == nil {
		t.Fatalf("approvals list: %d %s %s", code, out, stderr)
	}
	if _, stderr, code := tailops(t, nil, "approvals", "approve", m[0], "--state-dir", s.StateDir, "--reason", "ok from the host"); code != 0 {
		t.Fatalf("approvals approve: %s", stderr)
	}
	if text, isErr := callText(t, bot, "health_check", nil); isErr {
		t.Errorf("call approved on the host did not run: %s", text)
	}
}

// TestApprovalDigestIsKeyed: the digest an approval request is bound to,
// as the audit log records it and approvers see it, is the keyed digest
// under the random key in STATE_DIR/approvals.json.key (mode 0600), not
// the shared secret, and not the plain SHA-256 of the call.
func TestApprovalDigestIsKeyed(t *testing.T) {
	s := startServer(t, "--config", approvalConfig(t), "--approval-two-person", "--approval-wait", "50ms")
	bot := sdkSession(t, s.URL, s.token(t, "bot", auth.ScopeAdmin))
	alice := sdkSession(t, s.URL, s.token(t, "alice", auth.ScopeApprovalsGrant))
	text, _ := callText(t, bot, "health_check", nil)
	m := pendingID.FindStringSubmatch(text)
	if m == nil {
		t.Fatalf("first call: %s", text)
	}
	var req map[string]any
	for _, r := range s.auditRecords(t) {
		if ref, _ := r["approval"].(map[string]any); r["event"] == "approval_request" && ref["id"] == m[1] {
			req = r
		}
	}
	ref, _ := req["approval"].(map[string]any)
	digest, _ := ref["digest"].(string)

	keyPath := filepath.Join(s.StateDir, "approvals.json"+approval.KeyFileSuffix)
	key, err := os.ReadFile(keyPath)
	if err != nil {
		t.Fatalf("digest key: %v", err)
	}
	if fi, _ := os.Stat(keyPath); fi.Mode().Perm() != 0o600 || len(key) != approval.DigestKeySize || string(key) == string(s.Secret) {
		t.Errorf("digest key %s: mode %v, %d bytes, the shared secret: %v", keyPath, fi.Mode().Perm(), len(key), string(key) == string(s.Secret))
	}
	want, err := approval.Digest(key, "health_check", req["arguments"])
	if err != nil || digest != want || !strings.HasPrefix(digest, approval.DigestPrefix) {
		t.Errorf("audited digest %q, want %q (%v)", digest, want, err)
	}
	canonical, _ := json.Marshal([]any{"health_check", req["arguments"]})
	if plain := sha256.Sum256(canonical); strings.Contains(digest, hex.EncodeToString(plain[:])) {
		t.Errorf("audited digest %s is the plain SHA-256 of the call", digest)
	}
	if text, isErr := callText(t, alice, "list_approvals", nil); isErr || !strings.Contains(text, digest) {
		t.Errorf("list_approvals does not show the digest %s: %s", digest, text)
	}
}

// TestWebhookApprovalIsSignedAndBinding: the webhook receives a signed
// request and its answer decides; a denial is returned with its reason.
func TestWebhookApprovalIsSignedAndBinding(t *testing.T) {
	secret := []byte("webhook-secret-for-tests-0123456789")
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, secret, 0o600)
	approve := true
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mac := hmac.New(sha256.New, secret)
		mac.Write([]byte(r.Header.Get("X-TailOps-Timestamp") + "." + string(body)))
		if r.Header.Get("X-TailOps-Signature") != "sha256="+hex.EncodeToString(mac.Sum(nil)) {
			http.Error(w, "bad signature", http.StatusUnauthorized)
			return
		}
		var req struct{ ID, Tool string }
		json.Unmarshal(body, &req)
		json.NewEncoder(w).Encode(map[string]any{"id": req.ID, "approved": approve, "reason": "policy says so", "approver": "hook"})
	}))
	defer hook.Close()
	s := startServer(t, "--config", approvalConfig(t), "--approval-webhook", hook.URL, "--approval-webhook-secret-file", secretFile)
	cs := sdkSession(t, s.URL, s.token(t, "bot", auth.ScopeReadonly))
	if text, isErr := callText(t, cs, "health_check", nil); isErr {
		t.Fatalf("webhook-approved call: %s", text)
	}
	approve = false
	if text, isErr := callText(t, cs, "health_check", nil); !isErr || !strings.Contains(text, "policy says so") {
		t.Errorf("webhook-denied call: %v %s", isErr, text)
	}
}

// TestPlainWebhookOffTheTailnetWarns: an approval webhook over plain http
// to a host that is neither loopback nor on the tailnet gets a warning at
// start (its unsigned answer can be forged on the way); over https, on
// loopback or to a tailnet address it does not.
func TestPlainWebhookOffTheTailnetWarns(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte("webhook-secret-for-tests-0123456789"), 0o600)
	const warning = "the approval webhook is plain http"
	for url, warns := range map[string]bool{
		"http://192.0.2.10:8080/hook":        true,
		"http://approvals.lan/hook":          true,
		"https://192.0.2.10/hook":            false,
		"http://127.0.0.1:9/hook":            false,
		"http://100.101.102.103/hook":        false,
		"http://approver.tail1234.ts.net./h": false,
	} {
		s := startServer(t, "--approval-webhook", url, "--approval-webhook-secret-file", secretFile)
		if got := strings.Contains(s.Logs.String(), warning); got != warns {
			t.Errorf("%s: warned %v, want %v", url, got, warns)
		}
	}
}

// TestNoApprovalMechanismRefusesWithHowTo: without a mechanism, a call
// needing approval is refused with the flags that configure one.
func TestNoApprovalMechanismRefusesWithHowTo(t *testing.T) {
	s := startServer(t, "--config", approvalConfig(t))
	cs := sdkSession(t, s.URL, s.token(t, "bot", auth.ScopeAdmin))
	text, isErr := callText(t, cs, "health_check", nil)
	if !isErr || !strings.Contains(text, "--approval-webhook") || !strings.Contains(text, "--approval-two-person") {
		t.Errorf("refusal does not say how to configure approvals: %s", text)
	}
}

// TestApprovalStoreFailureIsAudited: a call whose approval request
// cannot be recorded (the approvals' store unusable) is refused, and the
// refusal has its tool_call record like any other.
func TestApprovalStoreFailureIsAudited(t *testing.T) {
	s := startServer(t, "--config", approvalConfig(t), "--approval-two-person")
	cs := sdkSession(t, s.URL, s.token(t, "bot", auth.ScopeAdmin))
	if err := s.in.approvals.store.Close(); err != nil {
		t.Fatal(err)
	}
	text, isErr := callText(t, cs, "health_check", nil)
	if !isErr || !strings.Contains(text, "approval request could not be recorded") {
		t.Fatalf("call with the approvals' store closed: %v %s", isErr, text)
	}
	var found bool
	for _, r := range s.records(t, "tool_call") {
		if r["tool"] == "health_check" && r["decision"] == "denied" && strings.Contains(fmt.Sprint(r["reason"]), "could not be recorded") {
			found = true
		}
	}
	if !found {
		t.Errorf("no denied tool_call record for the refused call: %v", s.records(t, "tool_call"))
	}
}

// TestApprovalWaitSendsProgress: a client that asked for progress gets MCP
// progress notifications while its call waits for a decision.
func TestApprovalWaitSendsProgress(t *testing.T) {
	s := startServer(t, "--config", approvalConfig(t), "--approval-two-person", "--approval-wait", "300ms")
	got := make(chan string, 16)
	c := sdk.NewClient(&sdk.Implementation{Name: "progress-test", Version: "1"}, &sdk.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, r *sdk.ProgressNotificationClientRequest) {
			got <- fmt.Sprint(r.Params.ProgressToken, " ", r.Params.Message)
		}})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cs, err := c.Connect(ctx, &sdk.StreamableClientTransport{Endpoint: s.URL + "/mcp",
		HTTPClient: &http.Client{Transport: bearer{s.token(t, "bot", auth.ScopeAdmin), http.DefaultTransport}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	params := &sdk.CallToolParams{Name: "health_check"}
	params.SetProgressToken("wait-1")
	res, err := cs.CallTool(ctx, params)
	if err != nil || !res.IsError {
		t.Fatalf("call: %v %+v", err, res)
	}
	select {
	case p := <-got:
		if !strings.HasPrefix(p, "wait-1 ") {
			t.Errorf("progress notification %q does not carry the call's token", p)
		}
	case <-time.After(2 * time.Second):
		t.Error("no progress notification while the call waited for approval")
	}
}

// TestHTTPRequestApprovalFollowsTheAllowList: http_request_test to a URL
// off the diagnostics allow-list waits for approval (and, with no approval
// mechanism configured, is refused saying how to configure one); to an
// allow-listed URL it runs. The rule comes from the tool's declaration.
func TestHTTPRequestApprovalFollowsTheAllowList(t *testing.T) {
	s := startServer(t, "--diag-allow", "127.0.0.1")
	cs := sdkSession(t, s.URL, s.token(t, "bot", auth.ScopeAdmin))
	for _, tc := range []struct {
		url      string
		refused  bool
		contains string
	}{
		{"http://192.0.2.1/", true, "--approval-webhook"}, // TEST-NET-1: refused before any connection
		{s.URL + "/healthz", false, "200"},
	} {
		text, isErr := callText(t, cs, "http_request_test", map[string]any{"url": tc.url})
		if isErr != tc.refused || !strings.Contains(text, tc.contains) {
			t.Errorf("%s: error %v, %q; want error %v containing %q", tc.url, isErr, text, tc.refused, tc.contains)
		}
	}
}

// TestTokenRevokedWhileAwaitingApprovalDoesNotRun: a call waiting for its
// approval whose token is revoked meanwhile stops waiting once the
// revocation is reloaded, refused, and does not run when its request is
// approved afterwards.
func TestTokenRevokedWhileAwaitingApprovalDoesNotRun(t *testing.T) {
	cfg := filepath.Join(t.TempDir(), "config.hujson")
	if err := os.WriteFile(cfg, []byte(`{"approval": ["health_check"]}`), 0o600); err != nil {
		t.Fatal(err)
	}
	s := startServer(t, "--config", cfg, "--approval-two-person", "--approval-wait", "30s")
	botTok := s.token(t, "bot", auth.ScopeAdmin)
	bot := sdkSession(t, s.URL, botTok)
	alice := sdkSession(t, s.URL, s.token(t, "alice", auth.ScopeApprovalsGrant))
	type answer struct {
		text  string
		isErr bool
	}
	done := make(chan answer, 1)
	go func() {
		text, isErr := callText(t, bot, "health_check", nil)
		done <- answer{text, isErr}
	}()
	var id string
	for deadline := time.Now().Add(10 * time.Second); id == ""; time.Sleep(50 * time.Millisecond) {
		text, _ := callText(t, alice, "list_approvals", nil)
		if m := regexp.MustCompile(`"id": "([0-9a-f]{16})"`).FindStringSubmatch(text); m != nil {
			id = m[1]
		}
		if time.Now().After(deadline) {
			t.Fatal("no pending request")
		}
	}
	if err := os.WriteFile(cfg, []byte(`{"approval": ["health_check"], "revoked": {"agents": ["bot"]}}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if resp := s.rpc(t, botTok, "", map[string]any{"jsonrpc": "2.0", "id": 1, "method": "ping"}); resp.StatusCode == 401 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("revocation not picked up within 10s")
		}
	}
	select {
	case a := <-done:
		if !a.isErr || !strings.Contains(a.text, "revoked while the call waited") {
			t.Errorf("the waiting call answered %v %q, want it refused as revoked", a.isErr, a.text)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the waiting call was still waiting 10 s after its token's revocation took effect")
	}
	if text, isErr := callText(t, alice, "approve_request", map[string]any{"id": id}); isErr {
		t.Fatalf("approve_request: %s", text)
	}
	for _, r := range s.toolRecords(t) {
		if r["tool"] == "health_check" && r["result"] == "success" {
			t.Errorf("health_check ran for a revoked token: %v", r)
		}
	}
}
