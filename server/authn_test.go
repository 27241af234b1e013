// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"tailscale.com/client/local"
	"tailscale.com/client/tailscale/apitype"
	"tailscale.com/tailcfg"
	"tailscale.com/types/key"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tailnet"
	"github.com/tailops/tailops/tools"
)

// whoIsNode is a WhoIs answer for a node at ip reporting Tailscale
// package pkg.
func whoIsNode(id, login, name, ip, pkg string, caps tailcfg.PeerCapMap) *apitype.WhoIsResponse {
	return &apitype.WhoIsResponse{
		Node: &tailcfg.Node{StableID: tailcfg.StableNodeID(id), Name: name + ".ts.net.", Key: key.NewNode().Public(),
			Addresses: []netip.Prefix{netip.MustParsePrefix(ip + "/32")}, Hostinfo: (&tailcfg.Hostinfo{Package: pkg}).View()},
		UserProfile: &tailcfg.UserProfile{LoginName: login},
		CapMap:      caps,
	}
}

// tailnetServer is a server of one read-only tool that identifies its
// callers with id and takes their scopes from their grants.
func tailnetServer(t *testing.T, id *tailnet.Identifier) *Server {
	t.Helper()
	l, err := audit.Open(filepath.Join(t.TempDir(), "audit.log"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	s, err := New(Config{Logger: slog.New(slog.NewTextHandler(io.Discard, nil)), Audit: l,
		Enabled: []tools.Spec{readTool("see", auth.ScopeReadonly)}, Tailnet: id, AuthMode: tailnet.AuthTailscale})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestFleetClaimOnlyFromATSNetEntry: a member takes a node's word for
// whom a forwarded call is for (Tailops-Fleet-Caller) only when the node
// holds the fleet-entry capability and is a tsnet node. A host whose
// tailscaled holds the capability speaks for every process and container
// on it, so a bare header from it is refused, whoever it names; so is
// one from a tsnet node without the capability.
func TestFleetClaimOnlyFromATSNetEntry(t *testing.T) {
	entryCap := tailcfg.PeerCapMap{tailnet.FleetEntryCapability: {`{}`}}
	byIP := map[string]*apitype.WhoIsResponse{
		"100.64.0.5": whoIsNode("nE", "tagged-devices", "entry", "100.64.0.5", tailnet.PackageTSNet, entryCap),
		"100.64.0.6": whoIsNode("nH", "tagged-devices", "host-tailscaled", "100.64.0.6", "deb", entryCap),
		"100.64.0.7": whoIsNode("nN", "tagged-devices", "no-cap", "100.64.0.7", tailnet.PackageTSNet, nil),
		"100.64.0.9": whoIsNode("nA", "alice@example.com", "alice-laptop", "100.64.0.9", "",
			tailcfg.PeerCapMap{tailnet.DefaultCapability: {`{"scopes":["admin"]}`}}),
	}
	id, err := tailnet.NewIdentifier(tailnet.IdentifierConfig{
		WhoIs: func(_ context.Context, addr string) (*apitype.WhoIsResponse, error) {
			ap, err := netip.ParseAddrPort(addr)
			if err != nil {
				return nil, err
			}
			if r, ok := byIP[ap.Addr().String()]; ok {
				return r, nil
			}
			return nil, local.ErrPeerNotFound
		},
		Self: func() tailcfg.StableNodeID { return "nM" },
	})
	if err != nil {
		t.Fatal(err)
	}
	s := tailnetServer(t, id)
	for _, tc := range []struct {
		name, from string
		want       string // the caller's agent; "" for a refusal
		refusal    string
	}{
		{"a tsnet entry point", "100.64.0.5", "alice@example.com", ""},
		{"a host tailscaled holding the capability", "100.64.0.6", "", "is not a TailOps entry point with its own tsnet node"},
		{"a tsnet node without the capability", "100.64.0.7", "", string(tailnet.FleetEntryCapability)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got *auth.Caller
			h := s.authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { got = auth.CallerFrom(r.Context()) }))
			r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
			r.RemoteAddr = tc.from + ":51234"
			r.Header.Set(tailnet.FleetCallerHeader, "100.64.0.9")
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			switch {
			case tc.want != "" && (got == nil || got.Agent != tc.want || got.Via == nil):
				t.Fatalf("%d %s: caller %+v, want %s via the entry point", w.Code, w.Body, got, tc.want)
			case tc.want == "" && (got != nil || w.Code != http.StatusForbidden || !strings.Contains(w.Header().Get("WWW-Authenticate")+w.Body.String(), tc.refusal)):
				t.Fatalf("%d %s (%s): caller %+v, want 403 naming %q", w.Code, w.Body, w.Header().Get("WWW-Authenticate"), got, tc.refusal)
			}
		})
	}
}

// TestTailnetSubscriberIsLookedUpAgain: a subscription made by a tailnet
// caller is checked again before each update, like a token's: once its
// node's grant is gone or narrowed, or its address is another node's, the
// check fails and its subscriptions are dropped; while the node still
// holds every scope it had, the check passes.
func TestTailnetSubscriberIsLookedUpAgain(t *testing.T) {
	grant := func(scopes string) tailcfg.PeerCapMap {
		return tailcfg.PeerCapMap{tailnet.DefaultCapability: {tailcfg.RawMessage(`{"scopes":[` + scopes + `]}`)}}
	}
	var mu sync.Mutex
	answer := whoIsNode("nA", "alice@example.com", "alice-laptop", "100.64.0.9", "", grant(`"readonly","container:write"`))
	id, err := tailnet.NewIdentifier(tailnet.IdentifierConfig{CacheTTL: -1,
		WhoIs: func(context.Context, string) (*apitype.WhoIsResponse, error) {
			mu.Lock()
			defer mu.Unlock()
			return answer, nil
		}})
	if err != nil {
		t.Fatal(err)
	}
	s := tailnetServer(t, id)
	var c *auth.Caller
	h := s.authenticate(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { c = auth.CallerFrom(r.Context()) }))
	r := httptest.NewRequest(http.MethodPost, "/mcp", nil)
	r.RemoteAddr = "100.64.0.9:51234"
	h.ServeHTTP(httptest.NewRecorder(), r)
	if c == nil {
		t.Fatal("alice was not let in")
	}
	valid := s.stillValid(auth.WithCaller(context.Background(), c), http.Header{})
	if valid == nil {
		t.Fatal("no check for a tailnet subscriber")
	}
	for _, tc := range []struct {
		name   string
		answer *apitype.WhoIsResponse
		want   string // "" when the check passes
	}{
		{"the same grant", whoIsNode("nA", "alice@example.com", "alice-laptop", "100.64.0.9", "", grant(`"readonly","container:write"`)), ""},
		{"a grant narrowed", whoIsNode("nA", "alice@example.com", "alice-laptop", "100.64.0.9", "", grant(`"readonly"`)), "no longer holds scope"},
		{"no grant", whoIsNode("nA", "alice@example.com", "alice-laptop", "100.64.0.9", "", nil), "no grant"},
		{"another node at the address", whoIsNode("nB", "alice@example.com", "alice-phone", "100.64.0.9", "", grant(`"readonly","container:write"`)), "now another node's"},
	} {
		mu.Lock()
		answer = tc.answer
		mu.Unlock()
		err := valid()
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: %v, want the check to pass", tc.name, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: %v, want an error saying %q", tc.name, err, tc.want)
		}
	}
}

// TestLongHostOrOriginIsClippedInItsRefusal: the Host and Origin checks
// run before authentication, so any peer may send a header of 60 KiB;
// the refusal's record quotes its first 200 bytes, in a line of under
// 2 KiB, so that such requests do not fill the audit disk.
func TestLongHostOrOriginIsClippedInItsRefusal(t *testing.T) {
	id, err := tailnet.NewIdentifier(tailnet.IdentifierConfig{
		WhoIs: func(context.Context, string) (*apitype.WhoIsResponse, error) { return nil, local.ErrPeerNotFound }})
	if err != nil {
		t.Fatal(err)
	}
	cs := serveChoke(t, Config{Enabled: []tools.Spec{readTool("see", auth.ScopeReadonly)}, Tailnet: id, Hosts: []string{"node.example.ts.net"}})
	long := strings.Repeat("h", 60<<10)
	for _, tc := range []struct {
		header string
		set    func(r *http.Request)
	}{
		{"Host", func(r *http.Request) { r.Host = "rebound-" + long }},
		{"Origin", func(r *http.Request) { r.Header.Set("Origin", "https://rebound-"+long) }},
	} {
		t.Run(tc.header, func(t *testing.T) {
			r, err := http.NewRequestWithContext(t.Context(), http.MethodPost, cs.url, strings.NewReader(`{}`))
			if err != nil {
				t.Fatal(err)
			}
			tc.set(r)
			resp, err := http.DefaultClient.Do(r)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != http.StatusForbidden {
				t.Fatalf("%s of 60 KiB answered %d, want 403", tc.header, resp.StatusCode)
			}
			line := auditLine(t, cs.logPath, "rebound-")
			if len(line) > 2<<10 {
				t.Errorf("the refusal's record is %d bytes, want at most 2 KiB", len(line))
			}
			if !strings.Contains(line, `"event":"auth_denied"`) || !strings.Contains(line, tc.header) {
				t.Errorf("the record %.300s… is not a refusal naming the %s header", line, tc.header)
			}
		})
	}
}

// auditLine returns the last line of the audit log at path that holds
// substr, failing the test when none does.
func auditLine(t *testing.T, path, substr string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSuffix(string(data), "\n"), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], substr) {
			return lines[i]
		}
	}
	t.Fatalf("no audit record holds %q", substr)
	return ""
}
