// SPDX-License-Identifier: Apache-2.0

package labtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"tailscale.com/client/local"
	"tailscale.com/ipn/ipnstate"
	"tailscale.com/ipn/store/mem"
	"tailscale.com/net/netns"
	"tailscale.com/net/tsaddr"
	"tailscale.com/tailcfg"
	"tailscale.com/tsnet"
	"tailscale.com/tstest/integration/testcontrol"
	"tailscale.com/types/key"
	"tailscale.com/types/logger"

	"github.com/tailops/tailops/auth"
)

// Tailnet is a real tailnet that lives entirely on loopback: Tailscale's
// in-process test control server, a DERP relay and a STUN server on
// 127.0.0.1, and tsnet nodes (Node) or tailscaled daemons (Tailscaled)
// joined to it. Nothing contacts a real Tailscale service.
//
// Every constructor first checks that the process sees no network but
// loopback (CheckLoopbackOnly) and fails the test otherwise: run the test
// binary through ReexecInLoopbackNetNS.
type Tailnet struct {
	// Control is the control server; tests change grants through
	// SetGrants and may use its other test hooks.
	Control *testcontrol.Server
	// ControlURL is the control server's URL (http://127.0.0.1:PORT),
	// what --ts-control-url and --login-server take.
	ControlURL string
	// DERPMap points at the loopback DERP and STUN servers.
	DERPMap *tailcfg.DERPMap

	logf logger.Logf
}

// TailnetOptions configures NewTailnet. A nil *TailnetOptions is ready
// for use.
type TailnetOptions struct {
	// AuthKey, if set, is required from every node that registers.
	AuthKey string
	// Verbose sends the control server's, DERP's and the nodes' logs to
	// t.Logf; by default they are discarded.
	Verbose bool
	// MagicDNSDomain, if set, turns MagicDNS on, names every node
	// HOSTNAME.MagicDNSDomain and makes control send that name as the
	// node's TLS certificate domain (what tsnet's ListenTLS needs); empty
	// means bare host names, no MagicDNS and no certificate domains.
	MagicDNSDomain string
}

// NewTailnet starts a control server, DERP and STUN on loopback for the
// test and stops them when it ends. Tags that nodes advertise are
// accepted (testcontrol then gives each tagged node a user of its own; a
// real control server says "tagged-devices").
func NewTailnet(t testing.TB, opts *TailnetOptions) *Tailnet {
	t.Helper()
	if opts == nil {
		opts = &TailnetOptions{}
	}
	RequireNodeSandbox(t)
	// As tsnet's own tests do: no SO_MARK or interface binding for the
	// nodes of this process.
	netns.SetEnabled(false)
	logf := logger.Discard
	if opts.Verbose {
		logf = t.Logf
	}
	derpMap := runDERPAndSTUN(t, logf, "127.0.0.1")
	control := &testcontrol.Server{
		DERPMap:        derpMap,
		RequireAuthKey: opts.AuthKey,
		TagOwners:      map[string][]string{}, // non-nil: tags requested at signup are granted
		AllOnline:      true,
		MagicDNSDomain: opts.MagicDNSDomain,
		Logf:           logf,
	}
	if opts.MagicDNSDomain != "" {
		control.DNSConfig = &tailcfg.DNSConfig{Proxied: true, Domains: []string{opts.MagicDNSDomain}}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	control.HTTPTestServer = httptest.NewUnstartedServer(control)
	control.HTTPTestServer.Listener.Close()
	control.HTTPTestServer.Listener = ln
	control.HTTPTestServer.Start()
	t.Cleanup(control.HTTPTestServer.Close)
	return &Tailnet{Control: control, ControlURL: control.HTTPTestServer.URL, DERPMap: derpMap, logf: logf}
}

// Node is a tsnet node of a test Tailnet.
type Node struct {
	// Server is the running tsnet node.
	*tsnet.Server
	// Hostname is the name it registered with.
	Hostname string
	// Tags are the tags it advertised (and got).
	Tags []string
	// Key is its node key.
	Key key.NodePublic
	// IPv4 and IPv6 are its tailnet addresses.
	IPv4, IPv6 netip.Addr
	// LC is its LocalAPI client.
	LC *local.Client
}

// Node starts a tsnet node with an in-memory state store, ephemeral,
// advertising tags, and waits until it is running and connected to the
// DERP relay. It is closed when the test ends.
func (tn *Tailnet) Node(t testing.TB, hostname string, tags ...string) *Node {
	t.Helper()
	return startNode(t, nodeSpec{hostname: hostname, controlURL: tn.ControlURL, authKey: tn.Control.RequireAuthKey,
		advertise: tags, tags: tags, logf: tn.logf})
}

// nodeSpec says how startNode joins a node to a control server.
type nodeSpec struct {
	hostname, controlURL, authKey string
	// advertise are the tags the node asks for; tags are those it is
	// known to get (from them, or from a tagged auth key).
	advertise, tags []string
	// persistent makes the node not ephemeral: closing it does not log
	// it out.
	persistent bool
	logf       logger.Logf
}

// startNode starts a tsnet node as spec says, ephemeral with an
// in-memory state store unless spec.persistent, and waits until it is
// running and connected to its home DERP relay. It is closed when the
// test ends.
func startNode(t testing.TB, spec nodeSpec) *Node {
	t.Helper()
	RequireNodeSandbox(t)
	hostname, tags := spec.hostname, spec.tags
	dir := filepath.Join(t.TempDir(), hostname)
	s := &tsnet.Server{
		Dir:           dir,
		Hostname:      hostname,
		ControlURL:    spec.controlURL,
		Ephemeral:     !spec.persistent,
		AdvertiseTags: spec.advertise,
		AuthKey:       spec.authKey,
		Logf:          spec.logf,
		UserLogf:      spec.logf,
	}
	if !spec.persistent {
		s.Store = new(mem.Store) // tsnet keeps a persistent node's state in Dir
	}
	t.Cleanup(func() { s.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	st, err := s.Up(ctx)
	if err != nil {
		t.Fatalf("bringing up tsnet node %s: %v", hostname, err)
	}
	lc, err := s.LocalClient()
	if err != nil {
		t.Fatal(err)
	}
	waitHomeDERP(t, ctx, s)
	n := &Node{Server: s, Hostname: hostname, Tags: tags, Key: st.Self.PublicKey, LC: lc}
	for _, a := range st.TailscaleIPs {
		if a.Is4() {
			n.IPv4 = a
		} else {
			n.IPv6 = a
		}
	}
	return n
}

// waitHomeDERP waits until s has a home DERP region and has heard from
// it: until then the relay drops the disco frames of peers looking for it.
func waitHomeDERP(t testing.TB, ctx context.Context, s *tsnet.Server) {
	t.Helper()
	h := s.Sys().HealthTracker.Get()
	ms := s.Sys().MagicSock.Get()
	for {
		if r := ms.GetLastNetcheckReport(ctx); r != nil && r.PreferredDERP != 0 &&
			!h.GetDERPRegionReceivedTime(r.PreferredDERP).IsZero() {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for the home DERP of %v: %v", s.Hostname, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// HTTPClient returns an HTTP client whose connections are dialed through
// the node, over the tailnet.
func (n *Node) HTTPClient() *http.Client {
	return &http.Client{Transport: &http.Transport{DialContext: n.Dial, ForceAttemptHTTP2: false}}
}

// NodeKey returns the key of the node registered as hostname (a node
// the test did not start itself, such as a tailops binary), waiting up
// to timeout for it to register.
func (tn *Tailnet) NodeKey(t testing.TB, hostname string, timeout time.Duration) key.NodePublic {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		for _, n := range tn.Control.AllNodes() {
			if strings.TrimSuffix(n.Name, ".") == hostname || n.Hostinfo.Hostname() == hostname {
				return n.Key
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no node %q registered within %v", hostname, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Addrs returns a registered node's tailnet addresses.
func (tn *Tailnet) Addrs(k key.NodePublic) []netip.Addr {
	n := tn.Control.Node(k)
	if n == nil {
		return nil
	}
	var out []netip.Addr
	for _, p := range n.Addresses {
		out = append(out, p.Addr())
	}
	return out
}

// Grant is one grant of a tailnet policy file as control compiles it for
// the destination node: the sources, when they talk to the destination,
// hold the app capability with these values, one value per matching
// grant. The policy
//
//	{"src": ["group:ops"], "dst": ["tag:tailops"],
//	 "app": {"tailops.dev/cap/mcp": [{"scopes": ["readonly"]}]}}
//
// is, for the tag:tailops node, a Grant with Src the addresses of the
// members' nodes and Values [`{"scopes":["readonly"]}`].
type Grant struct {
	// Src are the source nodes' addresses.
	Src []netip.Addr
	// Cap is the app capability's name.
	Cap string
	// Values are the capability's values (JSON), one per grant.
	Values []string
}

// ScopesValue returns the JSON value of a TailOps grant rule giving
// scopes: {"scopes":[...]}.
func ScopesValue(scopes ...string) string {
	b, _ := json.Marshal(auth.GrantRule{Scopes: scopes})
	return string(b)
}

// SetGrants replaces the grants the node dst receives, as control does
// when the policy file changes: it sends dst a packet filter that allows
// all traffic (the deny-by-default part is the application's: no grant,
// no scopes) plus one capability rule per grant.
//
// After the first SetGrants, testcontrol sends dst only what tests inject,
// so start every node dst must know about before calling it.
func (tn *Tailnet) SetGrants(dst key.NodePublic, grants ...Grant) error {
	filter := slices.Clone(tailcfg.FilterAllowAll)
	for _, g := range grants {
		var src []string
		for _, a := range g.Src {
			src = append(src, a.String())
		}
		vals := make([]tailcfg.RawMessage, len(g.Values))
		for i, v := range g.Values {
			vals[i] = tailcfg.RawMessage(v)
		}
		filter = append(filter, tailcfg.FilterRule{
			SrcIPs: src,
			CapGrant: []tailcfg.CapGrant{{
				Dsts:   []netip.Prefix{tsaddr.AllIPv4(), tsaddr.AllIPv6()},
				CapMap: tailcfg.PeerCapMap{tailcfg.PeerCapability(g.Cap): vals},
			}},
		})
	}
	if !tn.Control.AddRawMapResponse(dst, &tailcfg.MapResponse{PacketFilter: filter}) {
		return fmt.Errorf("sending grants to %v: node not connected to control", dst.ShortString())
	}
	return nil
}

// WaitGrant waits until lc (the destination node's LocalAPI) reports
// that src holds capability c with exactly the given values.
func WaitGrant(t testing.TB, lc *local.Client, src netip.Addr, c string, values []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	var got, want []string
	for _, v := range values {
		want = append(want, compactJSON(v))
	}
	for {
		res, err := lc.WhoIs(ctx, netip.AddrPortFrom(src, 1).String())
		if err == nil {
			got = got[:0]
			for _, v := range res.CapMap[tailcfg.PeerCapability(c)] {
				got = append(got, compactJSON(string(v)))
			}
			if slices.Equal(got, want) {
				return
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("grant of %s to %v not applied: have %q, want %q (last error %v)", c, src, got, want, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// WaitPeer waits up to 30 s until lc's node has a peer named hostname
// for which ok holds.
func WaitPeer(t testing.TB, lc *local.Client, hostname string, ok func(*ipnstate.PeerStatus) bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var last *ipnstate.PeerStatus
	for {
		st, err := lc.Status(ctx)
		if err == nil {
			for _, p := range st.Peer {
				if p.HostName == hostname {
					if last = p; ok(p) {
						return
					}
				}
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("peer %s never became as wanted; last seen as %+v (last error %v)", hostname, last, err)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// compactJSON returns v without insignificant white space (LocalAPI
// indents the values it returns), or v itself if it is not JSON.
func compactJSON(v string) string {
	var b bytes.Buffer
	if json.Compact(&b, []byte(v)) != nil {
		return v
	}
	return b.String()
}

// tailscaledBuild builds tailscaled once per test binary.
var tailscaledBuild struct {
	once sync.Once
	path string
	err  error
}

// RequireNodeSandbox fails the test unless a Tailscale node may start
// here: the process is in a network namespace with only loopback
// (CheckLoopbackOnly) and has every variable of TailnetEnv
// (TS_DISABLE_PORTMAPPER=1 and the rest), which the nodes it starts, in
// process or as child processes, inherit. ReexecInLoopbackNetNS provides
// both.
func RequireNodeSandbox(t testing.TB) {
	t.Helper()
	if err := CheckLoopbackOnly(); err != nil {
		t.Fatal(err)
	}
	for _, kv := range TailnetEnv {
		k, v, _ := strings.Cut(kv, "=")
		if os.Getenv(k) != v {
			t.Fatalf("%s is not set; run the test binary through ReexecInLoopbackNetNS", kv)
		}
	}
}
