// SPDX-License-Identifier: Apache-2.0

package tailnet_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/labtest"
	"github.com/tailops/tailops/tailnet"
)

// whoAmI serves the Peer that Identify finds behind each request's
// remote address, as JSON, or 403 with the error.
func whoAmI(id *tailnet.Identifier) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, err := id.Identify(r.Context(), r.RemoteAddr)
		if err != nil {
			http.Error(w, err.Error(), http.StatusForbidden)
			return
		}
		json.NewEncoder(w).Encode(p)
	})
}

func getPeer(t *testing.T, c *http.Client, url string) (*tailnet.Peer, int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return nil, resp.StatusCode, string(b)
	}
	var p tailnet.Peer
	if err := json.Unmarshal(b, &p); err != nil {
		t.Fatalf("decoding %s: %v", b, err)
	}
	return &p, resp.StatusCode, ""
}

func addrs(as ...netip.Addr) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.String())
	}
	return out
}

// TestTSNetNodeIdentifiesCallers brings a real tsnet node up with
// StartNode (as `serve --tailnet tsnet` does) on an offline tailnet and
// has a user-owned and a tagged node call it: WhoIs names each caller —
// not the server — with its tags and addresses, the grants compiled into
// the server's packet filter become scopes, and a changed grant applies
// without a restart once the short cache runs out.
func TestTSNetNodeIdentifiesCallers(t *testing.T) {
	labtest.RequireNodeSandbox(t) // loopback-only namespace, TS_DISABLE_PORTMAPPER=1
	tn := labtest.NewTailnet(t, nil)
	alice := tn.Node(t, "alice")
	ci := tn.Node(t, "ci", "tag:ci")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	node, err := tailnet.StartNode(ctx, tailnet.NodeConfig{Mode: tailnet.ModeTSNet, Dir: filepath.Join(t.TempDir(), "tailscale"),
		Hostname: "srv", ControlURL: tn.ControlURL, Tags: []string{"tag:tailops"}, Ephemeral: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { node.Close() })
	if node.HTTPS() {
		t.Error("HTTPS() is true on a tailnet without MagicDNS and HTTPS")
	}
	ln, url, err := node.Listen()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(url, "http://") {
		t.Errorf("url = %q, want http:// (no HTTPS on this tailnet)", url)
	}
	id, err := tailnet.NewIdentifier(tailnet.IdentifierConfig{WhoIs: node.WhoIs})
	if err != nil {
		t.Fatal(err)
	}
	go http.Serve(ln, whoAmI(id))
	srvKey := node.Status().Self.PublicKey
	srvURL := "http://" + node.Addrs()[0].String() + "/"

	// Before any grant: identities, no scopes.
	for _, n := range []*labtest.Node{alice, ci} {
		p, code, body := getPeer(t, n.HTTPClient(), srvURL)
		if p == nil {
			t.Fatalf("%s: %d %s", n.Hostname, code, body)
		}
		if p.Identity.NodeName != n.Hostname || !slices.Equal(p.Identity.Tags, n.Tags) ||
			!slices.Equal(p.Identity.Addresses, addrs(n.IPv4, n.IPv6)) || !strings.HasPrefix(p.Identity.LoginName, "user-") {
			t.Errorf("%s: identity = %+v", n.Hostname, p.Identity)
		}
		if p.Tagged != (len(n.Tags) > 0) || len(p.GrantScopes) != 0 {
			t.Errorf("%s: tagged %v grant %v", n.Hostname, p.Tagged, p.GrantScopes)
		}
		if slices.Contains(p.Identity.Addresses, node.Addrs()[0].String()) {
			t.Errorf("%s: the server's own address is in the caller's identity: %+v", n.Hostname, p.Identity)
		}
	}

	// Grants: alice one rule, ci two rules that merge.
	grants := []labtest.Grant{
		{Src: []netip.Addr{alice.IPv4, alice.IPv6}, Cap: tailnet.DefaultCapability, Values: []string{labtest.ScopesValue("readonly")}},
		{Src: []netip.Addr{ci.IPv4, ci.IPv6}, Cap: tailnet.DefaultCapability,
			Values: []string{labtest.ScopesValue("system:read"), labtest.ScopesValue("container:write")}},
	}
	if err := tn.SetGrants(srvKey, grants...); err != nil {
		t.Fatal(err)
	}
	labtest.WaitGrant(t, node.LocalClient(), ci.IPv4, tailnet.DefaultCapability, grants[1].Values)
	waitScopes(t, alice, srvURL, []auth.Scope{auth.ScopeReadonly}, 2*tailnet.DefaultCacheTTL)
	waitScopes(t, ci, srvURL, []auth.Scope{auth.ScopeContainerWrite, auth.ScopeSystemRead}, 2*tailnet.DefaultCacheTTL)

	// Change alice's grant while everything runs (same keep-alive
	// connection, so the cache is in play): it applies within the TTL.
	grants[0].Values = []string{labtest.ScopesValue("admin")}
	if err := tn.SetGrants(srvKey, grants...); err != nil {
		t.Fatal(err)
	}
	labtest.WaitGrant(t, node.LocalClient(), alice.IPv4, tailnet.DefaultCapability, grants[0].Values)
	waitScopes(t, alice, srvURL, []auth.Scope{auth.ScopeAdmin}, 2*tailnet.DefaultCacheTTL)

	// Withdraw every grant.
	if err := tn.SetGrants(srvKey); err != nil {
		t.Fatal(err)
	}
	labtest.WaitGrant(t, node.LocalClient(), alice.IPv4, tailnet.DefaultCapability, nil)
	waitScopes(t, alice, srvURL, nil, 2*tailnet.DefaultCacheTTL)
}

// waitScopes polls until the server reports want as the caller's grant
// scopes, failing after within.
func waitScopes(t *testing.T, n *labtest.Node, url string, want []auth.Scope, within time.Duration) {
	t.Helper()
	start := time.Now()
	var got []auth.Scope
	for time.Since(start) < within {
		p, code, body := getPeer(t, n.HTTPClient(), url)
		if p == nil {
			t.Fatalf("%s: %d %s", n.Hostname, code, body)
		}
		if got = p.GrantScopes; slices.Equal(got, want) {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: grant scopes %v after %v, want %v", n.Hostname, got, within, want)
}

// TestLocalNodeIdentifiesCallers runs a real tailscaled (userspace
// networking) on the offline tailnet and uses it as `serve --tailnet
// local` does: its status gives the addresses, and a connection from a
// tsnet node to its tailnet address, forwarded by tailscaled to a
// loopback listener, is identified by LocalAPI WhoIs. A plain loopback
// connection is not a peer.
func TestLocalNodeIdentifiesCallers(t *testing.T) {
	tn := labtest.NewTailnet(t, nil)
	bob := tn.Node(t, "bob")
	host := tn.Tailscaled(t, "host", "tag:tailops")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := tailnet.StartNode(ctx, tailnet.NodeConfig{Mode: tailnet.ModeLocal, Socket: filepath.Join(t.TempDir(), "none.sock")}); err == nil {
		t.Error("StartNode with a missing socket succeeded")
	}
	node, err := tailnet.StartNode(ctx, tailnet.NodeConfig{Mode: tailnet.ModeLocal, Socket: host.Socket})
	if err != nil {
		t.Fatalf("%v\ntailscaled logs:\n%s", err, host.Logs())
	}
	if !slices.Contains(node.Addrs(), host.IPv4) {
		t.Errorf("local node addresses %v lack %v", node.Addrs(), host.IPv4)
	}
	if _, _, err := node.Listen(); err == nil {
		t.Error("Listen in local mode succeeded; the server listens on host sockets itself")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	id, _ := tailnet.NewIdentifier(tailnet.IdentifierConfig{WhoIs: node.WhoIs})
	go http.Serve(ln, whoAmI(id))
	port := ln.Addr().(*net.TCPAddr).Port

	p, code, body := getPeer(t, bob.HTTPClient(), fmt.Sprintf("http://%s:%d/", host.IPv4, port))
	if p == nil {
		t.Fatalf("bob via tailscaled: %d %s\ntailscaled logs:\n%s", code, body, host.Logs())
	}
	if p.Identity.NodeName != "bob" || !slices.Equal(p.Identity.Addresses, addrs(bob.IPv4, bob.IPv6)) || p.Tagged {
		t.Errorf("identity = %+v", p.Identity)
	}
	_, code, body = getPeer(t, http.DefaultClient, fmt.Sprintf("http://127.0.0.1:%d/", port))
	if code != http.StatusForbidden || !strings.Contains(body, tailnet.ErrUnknownPeer.Error()) {
		t.Errorf("plain loopback: %d %s, want 403 unknown peer", code, body)
	}
	if _, err := id.Identify(ctx, "100.64.99.99:1"); !errors.Is(err, tailnet.ErrUnknownPeer) {
		t.Errorf("unknown address: %v", err)
	}
}

// TestNodesLeaveOutTailscaleFeatures: the nodes these tests start are
// built as the release builds them, without the Tailscale features of
// tailscale.tags (go test -tags "$(bash .ci/ts-tags.sh)", as .ci/test.sh
// runs it): so the tsnet node tests prove that the release's node joins,
// serves and identifies callers without them.
func TestNodesLeaveOutTailscaleFeatures(t *testing.T) {
	if err := labtest.CheckBuild(); err != nil {
		t.Fatal(err)
	}
}
