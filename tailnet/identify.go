// SPDX-License-Identifier: Apache-2.0

package tailnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"tailscale.com/client/local"
	"tailscale.com/client/tailscale/apitype"
	"tailscale.com/tailcfg"

	"github.com/tailops/tailops/auth"
)

// WhoIsFunc looks up the tailnet peer behind a remote address
// ("100.64.0.2:41234"). It has the signature of local.Client.WhoIs, and
// returns local.ErrPeerNotFound for an address the tailnet does not know.
type WhoIsFunc func(ctx context.Context, remoteAddr string) (*apitype.WhoIsResponse, error)

// ErrUnknownPeer is returned by Identify for a remote address that the
// tailnet does not know: not a peer, or a loopback connection that did not
// come through tailscaled's userspace proxy.
var ErrUnknownPeer = errors.New("unknown tailnet peer")

// DefaultCacheTTL is how long Identify reuses a WhoIs answer for the same
// connection (WithConn) or remote address. It bounds how long a changed grant, tag or allow-list
// match takes to apply to a connection that stays open.
const DefaultCacheTTL = 2 * time.Second

// maxCacheEntries bounds the cache; when full, expired entries go first,
// then everything.
const maxCacheEntries = 4096

// IdentifierConfig configures an Identifier. A zero value is not usable:
// WhoIs is required.
type IdentifierConfig struct {
	// WhoIs looks up a remote address. Outside of tests it is the WhoIs
	// of a Tailscale LocalClient: tsnet's in-process one in tsnet mode,
	// tailscaled's over its socket in local mode. Tests inject answers
	// here (setec's Config.WhoIs seam).
	WhoIs WhoIsFunc
	// Self is the server's own node; nil or "" means unknown. WhoIs
	// names that node for a connection from its own tailnet address —
	// a process on the same host dialling it, with the kernel's tailnet
	// interface — which is no peer: Identify treats it as unknown.
	Self func() tailcfg.StableNodeID
	// Host, in tsnet mode, are this host's own Tailscale addresses: a
	// node holding one is the host's tailscaled, which carries any local
	// process's or container's connections under its owner's identity,
	// and Identify treats it as unknown. Nil: none.
	Host *HostAddrs
	// Capability is the app capability whose grants give scopes; empty
	// means DefaultCapability.
	Capability string
	// Allow is the allow-list; nil or empty admits every peer.
	Allow []AllowEntry
	// CacheTTL is how long a WhoIs answer is reused per connection (or
	// per remote address, for a context without WithConn):
	// zero means DefaultCacheTTL, negative means no cache.
	CacheTTL time.Duration
	// Logger receives reports of malformed grant rules; nil means none.
	Logger *slog.Logger
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Identifier turns remote addresses into Peers with WhoIs, a short cache,
// the grants and the allow-list. It is safe for concurrent use.
type Identifier struct {
	cfg IdentifierConfig
	ttl time.Duration

	mu    sync.Mutex
	cache map[string]cacheEntry

	// rejectedSeen remembers which malformed rules were logged, so that
	// each is logged once per peer rather than on every request.
	rejectedSeen sync.Map // string → struct{}
}

type cacheEntry struct {
	peer    *Peer
	expires time.Time
}

// NewIdentifier returns an Identifier for cfg.
func NewIdentifier(cfg IdentifierConfig) (*Identifier, error) {
	if cfg.WhoIs == nil {
		return nil, errors.New("creating tailnet identifier: no WhoIs function")
	}
	if cfg.Capability == "" {
		cfg.Capability = DefaultCapability
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	ttl := cfg.CacheTTL
	if ttl == 0 {
		ttl = DefaultCacheTTL
	}
	return &Identifier{cfg: cfg, ttl: ttl, cache: map[string]cacheEntry{}}, nil
}

// connKey is the context key of a connection's number (WithConn).
type connKey struct{}

var connSeq atomic.Uint64

// WithConn numbers a connection in its context; it is an
// http.Server.ConnContext. Identify then caches per connection and
// remote address, not per remote address alone: the peer behind an open
// TCP connection cannot change, but an address can be reused by a new
// connection — a loopback port that tailscaled's forwarded connection
// just freed, taken by a local process — and that one is looked up
// afresh.
// A connection accepted by a listener from OffTailnet is marked so that
// Identify never asks WhoIs about it.
func WithConn(ctx context.Context, c net.Conn) context.Context {
	ctx = context.WithValue(ctx, connKey{}, connSeq.Add(1))
	if _, off := c.(offTailnetConn); off {
		ctx = context.WithValue(ctx, offTailnetKey{}, true)
	}
	return ctx
}

// offTailnetKey marks the context of a connection that did not come
// through the tailnet (OffTailnet).
type offTailnetKey struct{}

// OffTailnet wraps a host listener of a server whose tailnet node is its
// own (tsnet): what it accepts did not come through the tailnet, so its
// source address says nothing of who is calling — a host on the LAN can
// take a tailnet peer's address as its own — and Identify refuses it as
// an unknown peer without asking WhoIs. (With a host tailscaled the
// tailnet's connections arrive on host sockets: its listeners are not
// wrapped.)
func OffTailnet(ln net.Listener) net.Listener { return offTailnetListener{ln} }

type offTailnetListener struct{ net.Listener }

func (l offTailnetListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return offTailnetConn{c}, nil
}

// offTailnetConn is a connection OffTailnet accepted.
type offTailnetConn struct{ net.Conn }

// Identify returns the peer behind remoteAddr. The returned Peer is
// shared with the cache and must not be modified. It returns an error
// wrapping ErrUnknownPeer when WhoIs does not know the address, and any
// other WhoIs failure wrapped; either way the caller must refuse.
func (id *Identifier) Identify(ctx context.Context, remoteAddr string) (*Peer, error) {
	if off, _ := ctx.Value(offTailnetKey{}).(bool); off {
		return nil, fmt.Errorf("%w: %s (a connection on a host listener, not through the tailnet)", ErrUnknownPeer, remoteAddr)
	}
	now := id.cfg.Now()
	key := remoteAddr
	if n, ok := ctx.Value(connKey{}).(uint64); ok {
		key = remoteAddr + "#" + strconv.FormatUint(n, 10)
	}
	if id.ttl > 0 {
		id.mu.Lock()
		e, ok := id.cache[key]
		id.mu.Unlock()
		if ok && now.Before(e.expires) {
			return e.peer, nil
		}
	}
	res, err := id.cfg.WhoIs(ctx, remoteAddr)
	switch {
	case errors.Is(err, local.ErrPeerNotFound):
		return nil, fmt.Errorf("%w: %s", ErrUnknownPeer, remoteAddr)
	case err != nil:
		return nil, fmt.Errorf("calling WhoIs for %s: %w", remoteAddr, err)
	case res == nil || res.Node == nil || res.UserProfile == nil:
		return nil, fmt.Errorf("%w: %s (WhoIs answered without node or user)", ErrUnknownPeer, remoteAddr)
	case id.cfg.Self != nil && res.Node.StableID != "" && res.Node.StableID == id.cfg.Self():
		return nil, fmt.Errorf("%w: %s is this server's own node (a connection from this host, not through the tailnet)", ErrUnknownPeer, remoteAddr)
	case id.hostNode(res.Node):
		return nil, fmt.Errorf("%w: %s is this host's own tailscaled node, which carries the connections of every process and container on this host "+
			"(a local client: --allow-loopback with a token)", ErrUnknownPeer, remoteAddr)
	}
	p := id.peer(res)
	if id.ttl > 0 {
		id.mu.Lock()
		if len(id.cache) >= maxCacheEntries {
			for k, e := range id.cache {
				if !now.Before(e.expires) {
					delete(id.cache, k)
				}
			}
			if len(id.cache) >= maxCacheEntries {
				clear(id.cache)
			}
		}
		id.cache[key] = cacheEntry{peer: p, expires: now.Add(id.ttl)}
		id.mu.Unlock()
	}
	return p, nil
}

// hostNode reports whether n holds one of this host's own Tailscale
// addresses (IdentifierConfig.Host).
func (id *Identifier) hostNode(n *tailcfg.Node) bool {
	if id.cfg.Host == nil {
		return false
	}
	for _, a := range n.Addresses {
		if a.IsSingleIP() && id.cfg.Host.Contains(a.Addr()) {
			return true
		}
	}
	return false
}

// peer builds a Peer from a WhoIs answer.
func (id *Identifier) peer(res *apitype.WhoIsResponse) *Peer {
	n, u := res.Node, res.UserProfile
	p := &Peer{
		Identity: auth.TailscaleIdentity{
			LoginName:   u.LoginName,
			DisplayName: u.DisplayName,
			NodeName:    cleanName(n.Name),
			NodeID:      string(n.StableID),
			Tags:        append([]string(nil), n.Tags...),
		},
		NodeKey: n.Key.String(),
		Tagged:  n.IsTagged(),
	}
	for _, a := range n.Addresses {
		if a.IsSingleIP() {
			p.Identity.Addresses = append(p.Identity.Addresses, a.Addr().String())
		}
	}
	values := capValues(res.CapMap, tailcfg.PeerCapability(id.cfg.Capability))
	p.GrantScopes, p.Rejected = auth.ScopesFromGrants(values)
	for _, r := range p.Rejected {
		if _, seen := id.rejectedSeen.LoadOrStore(p.NodeKey+"\x00"+r.Rule, struct{}{}); !seen && id.cfg.Logger != nil {
			id.cfg.Logger.Warn("ignoring a malformed grant rule of the TailOps capability",
				slog.String("capability", id.cfg.Capability), slog.String("peer", p.Name()),
				slog.String("rule", r.Rule), slog.String("reason", r.Reason))
		}
	}
	p.Admitted, p.AllowScopes = admit(id.cfg.Allow, p)
	p.FleetEntry = len(res.CapMap[FleetEntryCapability]) > 0
	if n.Hostinfo.Valid() {
		p.Package = n.Hostinfo.Package()
	}
	return p
}

// capValues returns the capability's values as strings.
func capValues(m tailcfg.PeerCapMap, c tailcfg.PeerCapability) []string {
	raw := m[c]
	out := make([]string, len(raw))
	for i, v := range raw {
		out[i] = string(v)
	}
	return out
}

// IsLoopback reports whether a remote address ("127.0.0.1:1234",
// "[::1]:1234") is a loopback address.
func IsLoopback(remoteAddr string) bool {
	ap, err := netip.ParseAddrPort(remoteAddr)
	if err != nil {
		return false
	}
	return ap.Addr().Unmap().IsLoopback()
}
