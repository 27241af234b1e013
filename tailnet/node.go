// SPDX-License-Identifier: Apache-2.0

package tailnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"tailscale.com/client/local"
	"tailscale.com/client/tailscale/apitype"
	"tailscale.com/ipn/ipnstate"
	"tailscale.com/net/tsaddr"
	"tailscale.com/paths"
	"tailscale.com/tailcfg"
)

// errNoTSNet is the error for tsnet mode in a build without it.
var errNoTSNet = errors.New("this build of TailOps has no tsnet mode (built with -tags tailops_notsnet): " +
	"use --tailnet local with the host's tailscaled, or a build without that tag")

// DefaultSocket is where tailscaled's LocalAPI socket lives on Linux.
var DefaultSocket = paths.DefaultTailscaledSocket()

// TSNetNetlink are the netlink protocols the in-process Tailscale engine
// (tsnet mode) opens: NETLINK_ROUTE, for its interface monitor (links,
// addresses, routes and their changes) and default-route lookups. The
// sandbox allows these and no other.
var TSNetNetlink = []string{"NETLINK_ROUTE"}

// NodeConfig configures the server's tailnet node.
type NodeConfig struct {
	// Mode is tsnet or local; off needs no node.
	Mode Mode

	// Dir is tsnet's state directory (STATE_DIR/tailscale); created 0700.
	Dir string
	// Hostname is the tsnet node's name; empty means DefaultHostname().
	Hostname string
	// AuthKey joins a new tsnet node to the tailnet; empty means
	// TS_AUTHKEY, and without either the log shows a login URL.
	AuthKey string
	// ControlURL is the coordination server (Headscale); empty means
	// Tailscale's.
	ControlURL string
	// Tags are advertised by the tsnet node (tag:tailops).
	Tags []string
	// Ephemeral registers the tsnet node as ephemeral.
	Ephemeral bool
	// UploadLogs lets tsnet upload its logs to Tailscale; off by default.
	UploadLogs bool

	// Socket is tailscaled's LocalAPI socket in local mode; empty means
	// DefaultSocket.
	Socket string

	// Logger gets the node's messages: tsnet's own at info (the login
	// URL), the engine's at debug when Debug is set; nil discards them.
	Logger *slog.Logger
	// Debug passes the Tailscale engine's verbose log to Logger.
	Debug bool
}

// Node is the server's tailnet node: a tsnet.Server in tsnet mode, or
// the host's tailscaled in local mode.
type Node struct {
	mode   Mode
	ts     *tsServer // tsnet mode only
	lc     *local.Client
	status *ipnstate.Status
	log    *slog.Logger
}

// StartNode brings the node up and waits until it is running on the
// tailnet (tsnet), or checks that tailscaled is (local). It must be called
// before the sandbox is applied: tsnet reads its state and opens its
// sockets here.
func StartNode(ctx context.Context, cfg NodeConfig) (*Node, error) {
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	switch cfg.Mode {
	case ModeTSNet:
		return startTSNet(ctx, cfg, log)
	case ModeLocal:
		return startLocal(ctx, cfg, log)
	}
	return nil, fmt.Errorf("starting tailnet node: mode %q has no node", cfg.Mode)
}

func startLocal(ctx context.Context, cfg NodeConfig, log *slog.Logger) (*Node, error) {
	sock := cfg.Socket
	if sock == "" {
		sock = DefaultSocket
	}
	lc := &local.Client{Socket: sock, UseSocketOnly: true}
	st, err := lc.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("asking tailscaled at %s for its status: %w", sock, err)
	}
	if st.BackendState != "Running" {
		return nil, fmt.Errorf("tailscaled at %s is %s, not Running: run `tailscale up` first", sock, st.BackendState)
	}
	if len(st.TailscaleIPs) == 0 {
		return nil, fmt.Errorf("tailscaled at %s has no tailnet address yet", sock)
	}
	return &Node{mode: ModeLocal, lc: lc, status: st, log: log}, nil
}

// WhoIs is the node's LocalAPI WhoIs, for IdentifierConfig.WhoIs.
func (n *Node) WhoIs(ctx context.Context, remoteAddr string) (*apitype.WhoIsResponse, error) {
	return n.lc.WhoIs(ctx, remoteAddr)
}

// LocalClient returns the node's LocalAPI client.
func (n *Node) LocalClient() *local.Client { return n.lc }

// Status is the node's status when it came up.
func (n *Node) Status() *ipnstate.Status { return n.status }

// SelfID is the node's stable id; "" if its status names none.
func (n *Node) SelfID() tailcfg.StableNodeID {
	if n.status == nil || n.status.Self == nil {
		return ""
	}
	return n.status.Self.ID
}

// Addrs are the node's tailnet addresses.
func (n *Node) Addrs() []netip.Addr { return n.status.TailscaleIPs }

// Name is the node's MagicDNS name without the trailing dot, or "" if
// it has none.
func (n *Node) Name() string {
	if n.status.Self == nil {
		return ""
	}
	return cleanName(n.status.Self.DNSName)
}

// HostNames are the names and addresses by which tailnet clients reach
// the node, lowercased without trailing dot or port: its tailnet
// addresses, its MagicDNS name and that name's first label. The server
// accepts only these (and loopback names) in a request's Host header, so
// that a web page a tailnet user visits cannot rebind its own name to the
// node's address and ride on the user's tailnet identity.
func (n *Node) HostNames() []string {
	var out []string
	for _, a := range n.status.TailscaleIPs {
		out = append(out, a.String())
	}
	if name := strings.ToLower(n.Name()); name != "" {
		out = append(out, name)
		if short, _, ok := strings.Cut(name, "."); ok {
			out = append(out, short)
		}
	}
	if n.status.Self != nil && n.status.Self.HostName != "" {
		if h := strings.ToLower(n.status.Self.HostName); !slices.Contains(out, h) {
			out = append(out, h)
		}
	}
	return out
}

// HTTPS reports whether the tailnet offers this node certificates: MagicDNS
// and HTTPS are enabled, so ListenTLS can serve the node's *.ts.net name.
func (n *Node) HTTPS() bool {
	st := n.status
	return n.mode == ModeTSNet && st.CurrentTailnet != nil && st.CurrentTailnet.MagicDNSEnabled && len(st.CertDomains) > 0
}

// Listen opens the tsnet node's listener on the tailnet: HTTPS with the
// tailnet's certificate on port 443 when HTTPS() is true, else HTTP on
// port 80. It returns the URL clients use. Local mode has no such
// listener: the server listens on the host's tailnet addresses itself.
func (n *Node) Listen() (ln net.Listener, url string, err error) {
	if n.mode != ModeTSNet {
		return nil, "", errors.New("listening on the tailnet: only tsnet nodes listen themselves")
	}
	host := n.Name()
	if host == "" && len(n.status.TailscaleIPs) > 0 {
		host = n.status.TailscaleIPs[0].String()
	}
	if n.HTTPS() {
		ln, err = n.ts.ListenTLS("tcp", ":443")
		if err != nil {
			return nil, "", fmt.Errorf("listening with TLS on the tailnet: %w", err)
		}
		return ln, "https://" + n.status.CertDomains[0], nil
	}
	ln, err = n.ts.Listen("tcp", ":80")
	if err != nil {
		return nil, "", fmt.Errorf("listening on the tailnet: %w", err)
	}
	return ln, "http://" + host, nil
}

// Dial connects to addr on the tailnet: through the in-process engine
// in tsnet mode (no host socket), with the host's network stack, which
// routes tailnet addresses to tailscaled, in local mode.
func (n *Node) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if n.ts != nil {
		return n.ts.Dial(ctx, network, addr)
	}
	var d net.Dialer
	return d.DialContext(ctx, network, addr)
}

// DialPeer connects over TCP to addr (ip:port) of a tailnet peer: through
// the tsnet engine, or in local mode by tailscaled itself, over LocalAPI
// (as tailscale nc does), which reaches the tailnet in userspace
// networking too and goes through the socket the sandbox allows already.
func (n *Node) DialPeer(ctx context.Context, addr string) (net.Conn, error) {
	if n.ts != nil {
		return n.ts.Dial(ctx, "tcp", addr)
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("dialing tailnet peer %s: %w", addr, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("dialing tailnet peer %s: bad port", addr)
	}
	c, err := n.lc.DialTCP(ctx, host, uint16(p))
	if err != nil {
		return nil, fmt.Errorf("dialing tailnet peer %s through tailscaled: %w", addr, err)
	}
	return c, nil
}

// OnTailnet reports whether host (a name or an address, as in a URL)
// is on the node's tailnet: a Tailscale address, or a name under the
// tailnet's MagicDNS suffix (example.ts.net, or Headscale's base domain).
func (n *Node) OnTailnet(host string) bool {
	if a, err := netip.ParseAddr(strings.Trim(host, "[]")); err == nil {
		return tsaddr.IsTailscaleIP(a.Unmap())
	}
	var suffix string
	if n.status.CurrentTailnet != nil {
		suffix = strings.ToLower(strings.Trim(n.status.CurrentTailnet.MagicDNSSuffix, "."))
	}
	return suffix != "" && strings.HasSuffix(strings.ToLower(strings.TrimSuffix(host, ".")), "."+suffix)
}

// DialerFor returns the dialer that reaches host: the tsnet node's own
// (its userspace network stack, in this process: no host socket) when
// the node is a tsnet node and host is on its tailnet; nil, meaning the
// host's dialer, otherwise (local mode, where the host's tailscaled
// routes the tailnet, or no node at all).
func (n *Node) DialerFor(host string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	if n == nil || n.mode != ModeTSNet || n.ts == nil || !n.OnTailnet(host) {
		return nil
	}
	return n.ts.Dial
}

// Close stops a tsnet node; in local mode it does nothing.
func (n *Node) Close() error {
	if n.ts != nil {
		return n.ts.Close()
	}
	return nil
}

var notHostname = regexp.MustCompile(`[^a-z0-9-]+`)

// DefaultHostname is tailops-<host>: the host's first name label,
// lowercased, with anything that is not a letter, digit or dash removed.
func DefaultHostname() string {
	h, _ := os.Hostname()
	h, _, _ = strings.Cut(strings.ToLower(h), ".")
	h = strings.Trim(notHostname.ReplaceAllString(h, "-"), "-")
	if h == "" {
		return "tailops"
	}
	return "tailops-" + h
}
