// SPDX-License-Identifier: Apache-2.0

package approval_test

import (
	"encoding/json"
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
			if len(got) != 64 {
				t.Errorf("Digest %q is not 64 hex digits", got)
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
		if _, err := approval.Digest("x", map[string]any{"c": make(chan int)}); err == nil {
			t.Error("Digest of a channel succeeded")
		}
	})
}

func mustDigest(t *testing.T, tool string, args any) string {
	t.Helper()
	d, err := approval.Digest(tool, args)
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
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := approval.CallerKey(tc.caller); (got == base) != tc.same {
				t.Errorf("CallerKey = %s, base %s; want same=%v", got, base, tc.same)
			}
		})
	}
}
