// SPDX-License-Identifier: Apache-2.0

package approval_test

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
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tailops/tailops/approval"
	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/redact"
)

var webhookSecret = []byte("0123456789abcdef-webhook-secret")

// webhookServer is a real approval webhook on loopback. It checks every
// request's signature and timestamp as a receiver must, then answers with
// answer(request body).
type webhookServer struct {
	*httptest.Server
	mu     sync.Mutex
	bodies []map[string]any
	bad    []string // why requests were rejected
}

func newWebhookServer(t *testing.T, answer func(w http.ResponseWriter, r *http.Request, body map[string]any)) *webhookServer {
	t.Helper()
	ws := &webhookServer{}
	ws.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		raw, _ := io.ReadAll(r.Body)
		if reason := verifySignature(r, raw); reason != "" {
			ws.mu.Lock()
			ws.bad = append(ws.bad, reason)
			ws.mu.Unlock()
			http.Error(w, reason, http.StatusUnauthorized)
			return
		}
		var body map[string]any
		if err := json.Unmarshal(raw, &body); err != nil || r.Method != http.MethodPost ||
			r.Header.Get("Content-Type") != "application/json" {
			http.Error(w, "bad request", http.StatusBadRequest)
			return
		}
		ws.mu.Lock()
		ws.bodies = append(ws.bodies, body)
		ws.mu.Unlock()
		answer(w, r, body)
	}))
	t.Cleanup(ws.Close)
	return ws
}

// verifySignature recomputes the HMAC independently of the package.
func verifySignature(r *http.Request, body []byte) string {
	ts := r.Header.Get("X-TailOps-Timestamp")
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return "bad timestamp"
	}
	if d := time.Since(time.Unix(sec, 0)); d > 5*time.Minute || d < -5*time.Minute {
		return "stale timestamp"
	}
	m := hmac.New(sha256.New, webhookSecret)
	m.Write([]byte(ts + "." + string(body)))
	want := "sha256=" + hex.EncodeToString(m.Sum(nil))
	if !hmac.Equal([]byte(r.Header.Get("X-TailOps-Signature")), []byte(want)) {
		return "bad signature"
	}
	return ""
}

func (ws *webhookServer) counts() (bodies int, bad []string) {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return len(ws.bodies), append([]string(nil), ws.bad...)
}

func (ws *webhookServer) lastBody() map[string]any {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	if len(ws.bodies) == 0 {
		return nil
	}
	return ws.bodies[len(ws.bodies)-1]
}

func jsonAnswer(v any) func(http.ResponseWriter, *http.Request, map[string]any) {
	return func(w http.ResponseWriter, _ *http.Request, _ map[string]any) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(v)
	}
}

func TestWebhook(t *testing.T) {
	tests := []struct {
		name       string
		answer     func(http.ResponseWriter, *http.Request, map[string]any)
		secret     []byte
		now        func() time.Time
		allowed    bool
		reason     string // in the denial message and the decision record
		approver   string
		rejectedBy string // the test server's rejection, if any
	}{
		{name: "approve", answer: jsonAnswer(map[string]any{"approved": true, "reason": "change ticket 42", "approver": "oncall@example.com"}),
			allowed: true, approver: "oncall@example.com"},
		{name: "approve echoing the id", answer: func(w http.ResponseWriter, _ *http.Request, body map[string]any) {
			json.NewEncoder(w).Encode(map[string]any{"approved": true, "id": body["id"], "approver": "oncall@example.com"})
		}, allowed: true, approver: "oncall@example.com"},
		{name: "approve naming nobody", answer: jsonAnswer(map[string]any{"approved": true}), allowed: true, approver: "webhook"},
		{name: "deny", answer: jsonAnswer(map[string]any{"approved": false, "reason": "change freeze", "approver": "oncall@example.com"}),
			reason: "change freeze", approver: "oncall@example.com"},
		{name: "slow", answer: func(w http.ResponseWriter, r *http.Request, _ map[string]any) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
			json.NewEncoder(w).Encode(map[string]any{"approved": true})
		}, reason: "no answer within 200ms"},
		{name: "status 500", answer: func(w http.ResponseWriter, _ *http.Request, _ map[string]any) {
			w.WriteHeader(http.StatusInternalServerError)
			json.NewEncoder(w).Encode(map[string]any{"approved": true})
		}, reason: "status 500"},
		{name: "redirect", answer: func(w http.ResponseWriter, r *http.Request, _ map[string]any) {
			http.Redirect(w, r, "/elsewhere", http.StatusTemporaryRedirect)
		}, reason: "status 307"},
		{name: "malformed JSON", answer: func(w http.ResponseWriter, _ *http.Request, _ map[string]any) {
			io.WriteString(w, `{"approved": true,`)
		}, reason: "malformed response"},
		{name: "trailing data", answer: func(w http.ResponseWriter, _ *http.Request, _ map[string]any) {
			io.WriteString(w, `{"approved": false} {"approved": true}`)
		}, reason: "malformed response"},
		{name: "approved missing", answer: jsonAnswer(map[string]any{"approve": true}), reason: `no "approved"`},
		{name: "approved not a bool", answer: jsonAnswer(map[string]any{"approved": "yes"}), reason: "malformed response"},
		{name: "answer for another request", answer: jsonAnswer(map[string]any{"approved": true, "id": "ffffffffffffffff"}),
			reason: `response is for request "ffffffffffffffff"`},
		{name: "approver is the requester", answer: jsonAnswer(map[string]any{"approved": true, "approver": "alice@example.com"}),
			reason: "approver it named is the requester"},
		{name: "wrong secret", secret: []byte("not the secret"), answer: jsonAnswer(map[string]any{"approved": true}),
			reason: "status 401", rejectedBy: "bad signature"},
		{name: "stale timestamp", now: func() time.Time { return time.Now().Add(-time.Hour) }, answer: jsonAnswer(map[string]any{"approved": true}),
			reason: "status 401", rejectedBy: "stale timestamp"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ws := newWebhookServer(t, tc.answer)
			secret := tc.secret
			if secret == nil {
				secret = webhookSecret
			}
			wh := &approval.Webhook{URL: ws.URL + "/approve", Secret: secret, Timeout: 200 * time.Millisecond, Now: tc.now, Logger: quiet}
			e := newEnv(t, approval.Config{Webhook: wh, ProgressEvery: 20 * time.Millisecond})
			args := map[string]any{"url": "http://10.0.0.5/", "password": "hunter2"}
			start := time.Now()
			var progress []string
			o, err := e.gate.Check(context.Background(), approval.Call{Tool: "http_request_test", Args: args, Caller: alice},
				func(_, total time.Duration, msg string) {
					if total != 200*time.Millisecond {
						t.Errorf("progress total %v", total)
					}
					progress = append(progress, msg)
				})
			if err != nil {
				t.Fatalf("Check: %v", err)
			}
			if time.Since(start) > 3*time.Second {
				t.Errorf("Check took %v", time.Since(start))
			}
			if len(progress) == 0 || !strings.Contains(progress[0], "webhook") {
				t.Errorf("progress %q", progress)
			}
			if tc.name == "slow" && len(progress) < 3 {
				t.Errorf("slow webhook: %d progress messages, want several", len(progress))
			}
			if o.Allowed != tc.allowed || o.Pending || o.ApprovalID == "" {
				t.Fatalf("outcome %+v, want allowed=%v", o, tc.allowed)
			}
			if !tc.allowed && (!strings.Contains(o.Message, "approval denied") || !strings.Contains(o.Message, tc.reason)) {
				t.Errorf("message %q, want a denial with %q", o.Message, tc.reason)
			}
			_, bad := ws.counts()
			if tc.rejectedBy != "" {
				if len(bad) != 1 || bad[0] != tc.rejectedBy {
					t.Errorf("test server rejections %q, want %q", bad, tc.rejectedBy)
				}
				return
			}
			if len(bad) != 0 {
				t.Fatalf("test server rejected the request: %q", bad)
			}
			body := ws.lastBody()
			if body["id"] != o.ApprovalID || body["tool"] != "http_request_test" || body["state"] != "pending" ||
				body["digest"] != storeDigest(t, e.store, "http_request_test", args) {
				t.Errorf("webhook body %v", body)
			}
			if d, _ := body["digest"].(string); strings.Contains(d, plainDigest(t, "http_request_test", args)) {
				t.Errorf("webhook body digest %s is the plain SHA-256 of the arguments, password included", d)
			}
			if a, _ := body["arguments"].(map[string]any); a["password"] != redact.Redacted || a["url"] != "http://10.0.0.5/" {
				t.Errorf("webhook body arguments %v, want the redacted copy", body["arguments"])
			}
			if c, _ := body["caller"].(map[string]any); c["agent"] != "alice-agent" {
				t.Errorf("webhook body caller %v", body["caller"])
			}
			dec := e.findRecord(t, approval.EventDecision, o.ApprovalID)
			wantDecision := audit.DecisionDenied
			if tc.allowed {
				wantDecision = audit.DecisionAllowed
			}
			if dec.Decision != wantDecision || approvalField(dec, "mechanism") != "webhook" || !strings.Contains(dec.Reason, tc.reason) {
				t.Errorf("decision record %+v", dec)
			}
			if tc.approver != "" && approvalField(dec, "approver") != tc.approver {
				t.Errorf("decision record approver %v, want %s", approvalField(dec, "approver"), tc.approver)
			}
			if tc.allowed {
				// Single use: the same call asks the webhook again.
				before, _ := ws.counts()
				again := e.check(t, "http_request_test", args, alice)
				after, _ := ws.counts()
				if !again.Allowed || again.ApprovalID == o.ApprovalID || after != before+1 {
					t.Errorf("repeat: %+v after %d webhook calls, want a fresh approval", again, after-before)
				}
			}
		})
	}
}

func TestWebhookNetworkError(t *testing.T) {
	ws := httptest.NewServer(http.NotFoundHandler())
	url := ws.URL
	ws.Close() // nothing listens there any more
	e := newEnv(t, approval.Config{Webhook: &approval.Webhook{URL: url + "/?token=s3cret", Secret: webhookSecret, Logger: quiet}})
	o := e.check(t, "remove_container", argsA, alice)
	if o.Allowed || !strings.Contains(o.Message, "webhook: sending request") || strings.Contains(o.Message, "s3cret") {
		t.Fatalf("outcome %+v, want a denial without the URL", o)
	}
}

func TestLoadWebhookSecret(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		content string
		mode    os.FileMode
		want    string
		wantErr string
	}{
		{"ok", "s3cret\n", 0o600, "s3cret", ""},
		{"group readable", "s3cret", 0o640, "s3cret", ""},
		{"readable by others", "s3cret", 0o644, "", "accessible by other users"},
		{"empty", " \n", 0o600, "", "empty"},
		{"missing", "", 0, "", "no such file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, tc.name)
			if tc.mode != 0 {
				if err := os.WriteFile(path, []byte(tc.content), tc.mode); err != nil {
					t.Fatal(err)
				}
				os.Chmod(path, tc.mode)
			}
			got, err := approval.LoadWebhookSecret(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || strings.Contains(err.Error(), "s3cret") {
					t.Errorf("err = %v, want one mentioning %q (and not the secret)", err, tc.wantErr)
				}
				return
			}
			if err != nil || string(got) != tc.want {
				t.Errorf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestWebhookDecideDirect(t *testing.T) {
	ws := newWebhookServer(t, jsonAnswer(map[string]any{"approved": false, "reason": "no"}))
	wh := &approval.Webhook{URL: ws.URL, Secret: webhookSecret, Client: ws.Client(), Logger: quiet}
	r := approval.Request{ID: "0123456789abcdef", Tool: "x", State: approval.StatePending}
	v := wh.Decide(context.Background(), &r)
	if v.Approved || v.Failed || v.Reason != "no" {
		t.Errorf("verdict %+v", v)
	}
	if fmt.Sprint(ws.lastBody()["id"]) != r.ID {
		t.Errorf("body %v", ws.lastBody())
	}
}
