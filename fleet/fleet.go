// SPDX-License-Identifier: Apache-2.0

// Package fleet makes a TailOps node the entry point of a fleet: the
// TailOps nodes of its tailnet that carry one of the fleet's tags
// (--fleet tag:NAME). Members come from the node's netmap, so there is no
// list of hosts to keep and no membership of our own: a tagged peer that
// is online and answers as TailOps (its /healthz names its version in
// tailnet.VersionHeader) is a member.
//
// Calls for a member are forwarded over the tailnet with the caller's
// own credentials, never the entry node's: the caller's bearer token
// (auth.BearerFrom) and the caller's tailnet address in
// tailnet.FleetCallerHeader, which a member believes only from a node the
// tailnet policy grants tailnet.FleetEntryCapability, and then looks up
// with its own WhoIs. Each member authorizes, asks approval for and
// audits the call itself.
package fleet

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	"tailscale.com/ipn/ipnstate"
)

// Timing of discovery.
const (
	// statusTTL is how long a netmap snapshot is reused.
	statusTTL = 2 * time.Second
	// probeTTL is how long a peer's answer as TailOps is reused;
	// failedProbeTTL how long its failure to answer is (a member that is
	// still starting, or whose tailnet path is still being set up).
	probeTTL       = 15 * time.Second
	failedProbeTTL = 2 * time.Second
	// probeTimeout bounds one probe of a peer.
	probeTimeout = 3 * time.Second
)

// Config configures a Fleet.
type Config struct {
	// Tags are the tags that make a peer a member (tag:NAME); at least one.
	Tags []string
	// Version is this node's TailOps version, announced to members.
	Version string
	// Logger gets probe failures at debug level; nil discards them.
	Logger *slog.Logger
}

// Node is what a Fleet needs of the entry node's tailnet node: its
// netmap and a dialer over the tailnet.
type Node interface {
	// Status returns the node's status with its peers.
	Status(ctx context.Context) (*ipnstate.Status, error)
	// Dial connects to an address on the tailnet.
	Dial(ctx context.Context, network, addr string) (net.Conn, error)
}

// Fleet finds the members and forwards calls to them. It is safe for
// concurrent use.
type Fleet struct {
	cfg Config
	log *slog.Logger

	mu      sync.Mutex
	node    Node             // nil until Attach
	status  *ipnstate.Status // the last netmap snapshot
	statusT time.Time
	probes  map[string]probe // by the peer's stable node id

	http *httpClients
	meta json.RawMessage // every request's _meta (requestMeta)
}

// New returns a Fleet for cfg; it does nothing until Attach.
func New(cfg Config) (*Fleet, error) {
	if len(cfg.Tags) == 0 {
		return nil, errors.New("a fleet needs at least one tag (--fleet tag:NAME)")
	}
	for _, t := range cfg.Tags {
		if !strings.HasPrefix(t, "tag:") || len(t) == len("tag:") {
			return nil, fmt.Errorf("fleet tag %q: tags look like tag:NAME", t)
		}
	}
	f := &Fleet{cfg: cfg, log: cmp.Or(cfg.Logger, slog.New(slog.DiscardHandler)),
		probes: map[string]probe{}}
	var err error
	if f.meta, err = requestMeta(cfg.Version, mcp.ClientCapabilities{}); err != nil {
		return nil, fmt.Errorf("encoding the fleet's requests: %w", err)
	}
	f.http = newHTTPClients(f.dial)
	return f, nil
}

// Attach gives the Fleet the entry node, once it is up.
func (f *Fleet) Attach(n Node) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.node = n
}

// Tags returns the fleet's tags.
func (f *Fleet) Tags() []string { return slices.Clone(f.cfg.Tags) }

// Member is one fleet member as list_hosts shows it.
type Member struct {
	// Name is the member's MagicDNS name, or its host name without one;
	// what a call's node argument names it by.
	Name      string   `json:"name"`
	HostName  string   `json:"host_name"`
	Addresses []string `json:"addresses" jsonschema_description:"tailnet addresses"`
	OS        string   `json:"os"`
	Tags      []string `json:"tags"`
	Online    bool     `json:"online"`
	LastSeen  string   `json:"last_seen,omitempty" jsonschema_description:"when control last saw it (RFC 3339), for an offline member"`
	// TailOps reports whether the member answered as TailOps; Version is
	// the version it named.
	TailOps bool   `json:"tailops" jsonschema_description:"whether it answered as TailOps; an online tagged node that did not is not a member calls can go to"`
	Version string `json:"version,omitempty"`
	Problem string `json:"problem,omitempty" jsonschema_description:"why it cannot take calls, when it cannot"`

	url  string     // its MCP endpoint's base URL
	addr netip.Addr // the address dialed
	name string     // lowercased Name, for matching
}

// URL returns the base URL calls to the member go to.
func (m Member) URL() string { return m.url }

// Reachable reports whether calls can go to the member.
func (m Member) Reachable() bool { return m.Online && m.TailOps }

// Members returns the tagged peers of the netmap, online or not, sorted
// by name; online ones are probed (answers are reused for a while).
func (f *Fleet) Members(ctx context.Context) ([]Member, error) {
	st, err := f.snapshot(ctx)
	if err != nil {
		return nil, err
	}
	var out []Member
	ids := map[string]string{} // member name → stable node id
	for _, p := range st.Peer {
		if p == nil || !f.tagged(p) {
			continue
		}
		m := member(p)
		ids[m.Name] = string(p.ID)
		out = append(out, m)
	}
	slices.SortFunc(out, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	var wg sync.WaitGroup
	for i := range out {
		if !out[i].Online {
			out[i].Problem = "offline"
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			f.probeMember(ctx, &out[i], ids[out[i].Name])
		}()
	}
	wg.Wait()
	return out, nil
}

// Lookup returns the member node names: by MagicDNS name, tailnet
// address, the name's first label or host name, in that order of
// precedence. A name two members answer to at the same level is an error
// listing them, never a pick: host names are set by the nodes
// themselves. An unknown, offline or non-TailOps node is an error naming
// it. Only that member is probed (answers are reused for a while), so a
// forwarded call does not wait on the others.
func (f *Fleet) Lookup(ctx context.Context, node string) (Member, error) {
	st, err := f.snapshot(ctx)
	if err != nil {
		return Member{}, err
	}
	want := strings.ToLower(strings.TrimSuffix(node, "."))
	var all []Member
	ids := map[string]string{} // member name → stable node id
	for _, p := range st.Peer {
		if p == nil || !f.tagged(p) {
			continue
		}
		m := member(p)
		ids[m.Name] = string(p.ID)
		all = append(all, m)
	}
	slices.SortFunc(all, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	for level := range matchLevels {
		var found []Member
		for _, m := range all {
			if m.matchesAt(level, want) {
				found = append(found, m)
			}
		}
		switch {
		case len(found) > 1:
			names := make([]string, len(found))
			for i, m := range found {
				names[i] = m.Name
			}
			return Member{}, fmt.Errorf("%q names %d fleet members (%s): give the full MagicDNS name or an address", node, len(found), strings.Join(names, ", "))
		case len(found) == 1:
			m := found[0]
			if !m.Online {
				return m, fmt.Errorf("fleet member %s is offline (last seen %s)", m.Name, cmp.Or(m.LastSeen, "never"))
			}
			f.probeMember(ctx, &m, ids[m.Name])
			if !m.TailOps {
				return m, fmt.Errorf("node %s carries a fleet tag but does not answer as TailOps: %s", m.Name, m.Problem)
			}
			return m, nil
		}
	}
	names := make([]string, len(all))
	for i, m := range all {
		names[i] = m.Name
	}
	known := "none"
	if len(names) > 0 {
		known = strings.Join(names, ", ")
	}
	return Member{}, fmt.Errorf("no fleet member %q on the tailnet: the members (peers tagged %s) are %s; list_hosts shows them",
		node, strings.Join(f.cfg.Tags, " or "), known)
}

// Self reports whether node names the entry node itself (or is empty):
// its MagicDNS name, a tailnet address, its first label or host name,
// unless a member answers to node more surely (Lookup's order: a
// member's name over this node's host name).
func (f *Fleet) Self(ctx context.Context, node string) bool {
	if node == "" {
		return true
	}
	st, err := f.snapshot(ctx)
	if err != nil || st.Self == nil {
		return false
	}
	want := strings.ToLower(strings.TrimSuffix(node, "."))
	self := member(st.Self)
	for level := range matchLevels {
		if self.matchesAt(level, want) {
			return true
		}
		for _, p := range st.Peer {
			if p != nil && f.tagged(p) && member(p).matchesAt(level, want) {
				return false
			}
		}
	}
	return false
}

// snapshot returns the netmap, reused for statusTTL.
func (f *Fleet) snapshot(ctx context.Context) (*ipnstate.Status, error) {
	f.mu.Lock()
	n, st, at := f.node, f.status, f.statusT
	f.mu.Unlock()
	if n == nil {
		return nil, errors.New("the fleet is not ready: this node is not on the tailnet yet")
	}
	if st != nil && time.Since(at) < statusTTL {
		return st, nil
	}
	st, err := n.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the tailnet's peers: %w", err)
	}
	f.mu.Lock()
	f.status, f.statusT = st, time.Now()
	f.mu.Unlock()
	return st, nil
}

// tagged reports whether p carries one of the fleet's tags.
func (f *Fleet) tagged(p *ipnstate.PeerStatus) bool {
	if p.Tags == nil {
		return false
	}
	for _, t := range p.Tags.All() {
		if slices.Contains(f.cfg.Tags, t) {
			return true
		}
	}
	return false
}

// member describes a peer.
func member(p *ipnstate.PeerStatus) Member {
	m := Member{Name: strings.TrimSuffix(p.DNSName, "."), HostName: p.HostName, OS: p.OS, Online: p.Online}
	if m.Name == "" {
		m.Name = p.HostName
	}
	m.name = strings.ToLower(m.Name)
	if p.Tags != nil {
		m.Tags = p.Tags.AsSlice()
	}
	for _, a := range p.TailscaleIPs {
		m.Addresses = append(m.Addresses, a.String())
		if !m.addr.IsValid() || (a.Is4() && !m.addr.Is4()) {
			m.addr = a
		}
	}
	if !p.Online && !p.LastSeen.IsZero() {
		m.LastSeen = p.LastSeen.UTC().Format(time.RFC3339)
	}
	return m
}

// matchLevels is how many ways a node can be named (matchesAt), the
// surest first: MagicDNS name, tailnet address, the name's first label,
// host name.
const matchLevels = 4

// matchesAt reports whether want (lowercased) names m at level (0 to
// matchLevels-1).
func (m Member) matchesAt(level int, want string) bool {
	if want == "" {
		return false
	}
	switch level {
	case 0:
		return want == m.name
	case 1:
		return slices.Contains(m.Addresses, want)
	case 2:
		short, _, _ := strings.Cut(m.name, ".")
		return want == short
	default:
		return strings.EqualFold(want, m.HostName)
	}
}
