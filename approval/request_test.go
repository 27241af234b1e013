// SPDX-License-Identifier: Apache-2.0

package approval_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"regexp"
	"strings"
	"testing"

	"github.com/tailops/tailops/approval"
	"github.com/tailops/tailops/auth"
)

func TestDigest(t *testing.T) {
	base := map[string]any{"url": "http://example.com", "method": "GET", "headers": map[string]any{"b": "2", "a": "1"}, "n": 3.0}
	baseDigest := mustDigest(t, "http_request_test", base)
	tests := []struct {
		name string
		tool string
		args any
		same bool
	}{
		{"same map", "http_request_test", map[string]any{"n": 3.0, "headers": map[string]any{"a": "1", "b": "2"}, "method": "GET", "url": "http://example.com"}, true},
		{"raw JSON, other key order and spacing", "http_request_test",
			json.RawMessage(`{ "headers": {"b":"2","a":"1"}, "n": 3, "method":"GET", "url":"http://example.com" }`), true},
		{"other tool", "http_request", base, false},
		{"other value", "http_request_test", map[string]any{"n": 3.0, "headers": map[string]any{"a": "1", "b": "2"}, "method": "POST", "url": "http://example.com"}, false},
		{"extra key", "http_request_test", map[string]any{"n": 3.0, "headers": map[string]any{"a": "1", "b": "2"}, "method": "GET", "url": "http://example.com", "x": nil}, false},
		{"number written differently", "http_request_test",
			json.RawMessage(`{"headers":{"a":"1","b":"2"},"n":3.0,"method":"GET","url":"http://example.com"}`), false},
		{"nested value", "http_request_test", map[string]any{"n": 3.0, "headers": map[string]any{"a": "1", "b": "3"}, "method": "GET", "url": "http://example.com"}, false},
		{"no arguments", "http_request_test", nil, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := mustDigest(t, tc.tool, tc.args)
			if (got == baseDigest) != tc.same {
				t.Errorf("Digest = %s, base %s; want same=%v", got, baseDigest, tc.same)
			}
			if !digestFormat.MatchString(got) {
				t.Errorf("Digest %q is not %q and 64 hex digits", got, approval.DigestPrefix)
			}
		})
	}
	t.Run("nil and empty object differ", func(t *testing.T) {
		if mustDigest(t, "x", nil) == mustDigest(t, "x", map[string]any{}) {
			t.Error("nil and {} have the same digest")
		}
	})
	t.Run("tool and argument boundary", func(t *testing.T) {
		if mustDigest(t, "a", []any{"b"}) == mustDigest(t, "a\",[\"b", nil) {
			t.Error("tool and arguments are not separated")
		}
	})
	t.Run("unencodable", func(t *testing.T) {
		if _, err := approval.Digest(testKey, "x", map[string]any{"c": make(chan int)}); err == nil {
			t.Error("Digest of a channel succeeded")
		}
	})
}

var digestFormat = regexp.MustCompile(`^hmac-sha256:[0-9a-f]{64}$`)

// TestDigestIsKeyed: the digest depends on the key, is stable under one
// key, and needs a full-size key.
func TestDigestIsKeyed(t *testing.T) {
	args := map[string]any{"url": "http://10.0.0.5/", "password": "hunter2"}
	other := bytes.Repeat([]byte{0x17}, approval.DigestKeySize)
	tests := []struct {
		name    string
		key     []byte
		same    bool // the same digest as under testKey
		wantErr bool
	}{
		{"same key", bytes.Clone(testKey), true, false},
		{"other key", other, false, false},
		{"key differing in one bit", append([]byte{testKey[0] ^ 1}, testKey[1:]...), false, false},
		{"longer key", append(bytes.Clone(testKey), 1), false, false},
		{"no key", nil, false, true},
		{"short key", testKey[:approval.DigestKeySize-1], false, true},
	}
	base := mustDigest(t, "http_request_test", args)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := approval.Digest(tc.key, "http_request_test", args)
			if (err != nil) != tc.wantErr {
				t.Fatalf("Digest: %q, %v; want error %v", got, err, tc.wantErr)
			}
			if err != nil {
				return
			}
			if (got == base) != tc.same {
				t.Errorf("Digest = %s, under testKey %s; want same=%v", got, base, tc.same)
			}
		})
	}
}

// TestDigestResistsUnkeyedGuessing: someone who reads a digest in the
// audit log and knows everything but a short password cannot confirm a
// guess with the unkeyed construction of earlier versions (the plain
// SHA-256 of the canonical call); only the key holder can.
func TestDigestResistsUnkeyedGuessing(t *testing.T) {
	const secret = "hunter2"
	call := func(pw string) map[string]any {
		return map[string]any{"url": "http://10.0.0.5/", "method": "GET", "password": pw}
	}
	d := mustDigest(t, "http_request_test", call(secret))
	guesses := []string{"123456", "password", "letmein", "hunter1", secret, "qwerty", "hunter3"}
	attacks := []struct {
		name string
		hash func(canonical []byte) string
		want bool // whether the attack finds the secret
	}{
		{"plain SHA-256 (the old digest)", func(c []byte) string { h := sha256.Sum256(c); return hex.EncodeToString(h[:]) }, false},
		{"plain SHA-256 with the prefix", func(c []byte) string {
			h := sha256.Sum256(c)
			return approval.DigestPrefix + hex.EncodeToString(h[:])
		}, false},
		{"HMAC under another key", func(c []byte) string {
			m := hmac.New(sha256.New, bytes.Repeat([]byte{0x17}, approval.DigestKeySize))
			m.Write(c)
			return approval.DigestPrefix + hex.EncodeToString(m.Sum(nil))
		}, false},
		// The control: with the key, the same guessing finds the secret,
		// so the canonical form above is right and the others fail only
		// for want of the key.
		{"HMAC under the key", func(c []byte) string {
			m := hmac.New(sha256.New, testKey)
			m.Write(c)
			return approval.DigestPrefix + hex.EncodeToString(m.Sum(nil))
		}, true},
	}
	for _, a := range attacks {
		t.Run(a.name, func(t *testing.T) {
			found := ""
			for _, g := range guesses {
				if h := a.hash(canonicalCall(t, "http_request_test", call(g))); h == d || h == strings.TrimPrefix(d, approval.DigestPrefix) {
					found = g
				}
			}
			if (found != "") != a.want {
				t.Errorf("guessing found %q; want found=%v", found, a.want)
			}
		})
	}
	if plainDigest(t, "http_request_test", call(secret)) == strings.TrimPrefix(d, approval.DigestPrefix) {
		t.Error("the digest is the plain SHA-256 of the call")
	}
}

func mustDigest(t *testing.T, tool string, args any) string {
	t.Helper()
	d, err := approval.Digest(testKey, tool, args)
	if err != nil {
		t.Fatalf("Digest: %v", err)
	}
	return d
}

func TestCallerKey(t *testing.T) {
	base := approval.CallerKey(alice)
	tests := []struct {
		name   string
		caller *auth.Caller
		same   bool
	}{
		{"copy", with(alice, func(*auth.Caller) {}), true},
		{"other remote address and scopes", with(alice, func(c *auth.Caller) { c.RemoteAddr = "100.64.0.9:1"; c.Scopes = nil }), true},
		{"other agent", with(alice, func(c *auth.Caller) { c.Agent = "mallory" }), false},
		{"other token of the agent", with(alice, func(c *auth.Caller) { c.TokenID = "jti-other" }), false},
		{"other Tailscale login", with(alice, func(c *auth.Caller) { c.Tailscale.LoginName = "eve@example.com" }), false},
		{"no Tailscale identity", with(alice, func(c *auth.Caller) { c.Tailscale = nil }), false},
		{"quoting", with(alice, func(c *auth.Caller) { c.Agent = `alice-agent" token="jti-alice` }), false},
		{"other node of the user", with(alice, func(c *auth.Caller) { c.Tailscale.NodeName, c.Tailscale.NodeID = "alice-phone", "nPhone" }), true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := approval.CallerKey(tc.caller); (got == base) != tc.same {
				t.Errorf("CallerKey = %s, base %s; want same=%v", got, base, tc.same)
			}
		})
	}
}

// TestCallerKeyTaggedNode: tagged nodes share the login "tagged-devices",
// and a node's name passes to the next node given it, so an approval made
// for one tagged node binds to its stable node id: another node of the
// same name and tags is another caller.
func TestCallerKeyTaggedNode(t *testing.T) {
	tagged := &auth.Caller{Agent: "ci-runner", Method: auth.MethodTailscale, Scopes: []auth.Scope{auth.ScopeAdmin},
		Tailscale: &auth.TailscaleIdentity{LoginName: "tagged-devices", NodeName: "ci-runner", NodeID: "nRunner1", Tags: []string{"tag:ci"}}}
	base := approval.CallerKey(tagged)
	tests := []struct {
		name   string
		caller *auth.Caller
		same   bool
	}{
		{"copy", with(tagged, func(*auth.Caller) {}), true},
		{"a new node given the name", with(tagged, func(c *auth.Caller) { c.Tailscale.NodeID = "nRunner2" }), false},
		{"another tagged node", with(tagged, func(c *auth.Caller) {
			c.Agent, c.Tailscale.NodeName, c.Tailscale.NodeID = "web", "web", "nWeb"
		}), false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := approval.CallerKey(tc.caller); (got == base) != tc.same {
				t.Errorf("CallerKey = %s, base %s; want same=%v", got, base, tc.same)
			}
		})
	}
}

// TestWriteRequestEscapesTerminalControls: what a caller put in its
// arguments or plan cannot act on the approver's terminal: DEL, the C1
// controls (U+009B is a CSI) and the bidirectional overrides come out as
// JSON escapes or '?', never as themselves.
func TestWriteRequestEscapesTerminalControls(t *testing.T) {
	const evil = "\u009b2J\u009b1;1H approved \u202edeny\u202c \x7f \u2066x\u2069 \u200f \u061c"
	for _, r := range []approval.Request{
		{ID: "0123456789abcdef", Tool: "exec_in_container", Arguments: map[string]any{"argv": []any{"sh", "-c", evil}}},
		{ID: "0123456789abcdef", Tool: "deploy_stack", Arguments: map[string]any{}, Plan: map[string]any{"config": evil + "\nline two " + evil, "commit": evil}},
		{ID: "0123456789abcdef", Tool: "deploy_stack", Arguments: map[string]any{}, Plan: []any{evil}},
		{ID: "0123456789abcdef", Tool: "x", Arguments: map[string]any{}, Caller: auth.Caller{Agent: evil}},
	} {
		var out bytes.Buffer
		if err := approval.WriteRequest(&out, &r); err != nil {
			t.Fatal(err)
		}
		s := out.String()
		for _, c := range []string{"\u009b", "\u202e", "\u202c", "\x7f", "\u2066", "\u2069", "\u200f", "\u061c"} {
			if strings.Contains(s, c) {
				t.Errorf("%s: the output holds %q:\n%s", r.Tool, c, s)
			}
		}
		if !strings.Contains(s, `\u009b2J`) && !strings.Contains(s, "?2J") {
			t.Errorf("%s: the CSI is neither escaped nor replaced:\n%s", r.Tool, s)
		}
	}
}
