// SPDX-License-Identifier: Apache-2.0

package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"net"
	"path/filepath"
	"strings"

	"tailscale.com/ipn/ipnstate"

	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/server"
	"github.com/tailops/tailops/tailnet"
)

// startTailnet brings the tailnet node up (tsnet) or checks the host's
// tailscaled (local), opens the mode's listeners into in.served, and
// returns what identifies the callers. It runs before the sandbox.
func (in *instance) startTailnet(ctx context.Context) (*tailnet.Identifier, error) {
	c := in.cfg
	key, err := c.tsAuthKey()
	if err != nil {
		return nil, err
	}
	nc := tailnet.NodeConfig{
		Mode:       c.tailnetMode,
		Dir:        filepath.Join(c.StateDir, "tailscale"),
		Hostname:   c.TSHostname,
		AuthKey:    key,
		ControlURL: c.TSControlURL,
		Tags:       c.TSTags,
		Ephemeral:  c.TSEphemeral,
		UploadLogs: c.TSLogs,
		Socket:     c.TailscaledSocket,
		Logger:     in.log,
		Debug:      strings.EqualFold(c.LogLevel, "debug"),
	}
	if nc.Mode == tailnet.ModeTSNet {
		in.log.Info("joining the tailnet with tsnet", slog.String("hostname", cmp.Or(nc.Hostname, tailnet.DefaultHostname())),
			slog.String("state_dir", nc.Dir), slog.Bool("log_upload", nc.UploadLogs))
		// The host listener first: from here on the process binds no TCP
		// port, whatever the engine would open.
		if c.set["listen"] {
			s, err := hostListener(ctx, c.Listen)
			if err != nil {
				return nil, err
			}
			// No tailnet connection arrives here: the tsnet node has its
			// own listener.
			s.ln = tailnet.OffTailnet(s.ln)
			in.ln, in.served = s.ln, append(in.served, s)
		}
		if err := in.keepEngineOffHostPorts(); err != nil {
			return nil, err
		}
	}
	if in.node, err = tailnet.StartNode(ctx, nc); err != nil {
		return nil, err
	}
	if in.fleet != nil {
		in.fleet.Attach(fleetNode{in.node})
	}
	switch c.tailnetMode {
	case tailnet.ModeTSNet:
		ln, url, err := in.node.Listen()
		if err != nil {
			return nil, err
		}
		// The tailnet listener first in the list, as before.
		in.served = append([]served{{ln: ln, url: url}}, in.served...)
	case tailnet.ModeLocal:
		addrs := []string{c.Listen}
		if !c.set["listen"] {
			_, port, err := net.SplitHostPort(c.Listen)
			if err != nil {
				return nil, fmt.Errorf("--listen %q: %w", c.Listen, err)
			}
			addrs = addrs[:0]
			for _, a := range in.node.Addrs() {
				addrs = append(addrs, net.JoinHostPort(a.String(), port))
			}
		}
		for _, addr := range addrs {
			s, err := hostListener(ctx, addr)
			if err != nil && !c.set["listen"] {
				return nil, fmt.Errorf("%w (a tailscaled in userspace-networking mode has its tailnet addresses on no interface: "+
					"use --listen 127.0.0.1:PORT, to which it forwards the tailnet's connections)", err)
			}
			if err != nil {
				return nil, err
			}
			if in.ln == nil {
				in.ln = s.ln
			}
			in.served = append(in.served, s)
		}
	}
	var host *tailnet.HostAddrs
	if c.tailnetMode == tailnet.ModeTSNet {
		// Listed now, before the sandbox may deny the netlink socket.
		host = tailnet.NewHostAddrs()
	}
	return tailnet.NewIdentifier(tailnet.IdentifierConfig{WhoIs: in.node.WhoIs, Self: in.node.SelfID, Host: host, Capability: c.TSCapability,
		Allow: c.tsAllow, Logger: in.log})
}

// keepEngineOffHostPorts forbids the process new host TCP listeners
// before the tsnet engine starts (sandbox.NoNewTCPListeners): the build
// has no peer API server, the one engine part that would listen on
// 0.0.0.0, and this keeps any other off the host too. Where the sandbox
// mode or the kernel does not allow it, it says so.
func (in *instance) keepEngineOffHostPorts() error {
	mode, err := sandbox.ParseMode(in.cfg.Sandbox)
	if err != nil {
		return fmt.Errorf("--sandbox: %w", err)
	}
	missing, err := sandbox.NoNewTCPListeners(mode)
	if err != nil {
		return err
	}
	if len(missing) > 0 {
		in.log.Info("tsnet: new host TCP listeners are not forbidden (the engine opens none: this build has no peer API server); "+
			"--sandbox enforce on a kernel with Landlock ABI 4 and seccomp forbids them",
			slog.String("not applied", strings.Join(missing, "; ")))
	}
	return nil
}

// fleetNode is the tailnet node as the fleet needs it: the netmap with
// its peers, and a dialer.
type fleetNode struct{ n *tailnet.Node }

func (f fleetNode) Status(ctx context.Context) (*ipnstate.Status, error) {
	return f.n.LocalClient().Status(ctx)
}

func (f fleetNode) Dial(ctx context.Context, network, addr string) (net.Conn, error) {
	if network != "tcp" && network != "tcp4" && network != "tcp6" {
		return nil, fmt.Errorf("fleet: no %s connections to members", network)
	}
	return f.n.DialPeer(ctx, addr)
}

// forwarder is the server's fleet forwarder: nil (an interface holding
// no *fleet.Fleet) when this node is no fleet entry point.
func (in *instance) forwarder() server.Forwarder {
	if in.fleet == nil {
		return nil
	}
	return in.fleet
}

// hostNames are the Host header values the server accepts besides
// loopback names: the node's tailnet names and addresses; nil without a
// tailnet.
func (in *instance) hostNames() []string {
	if in.node == nil {
		return nil
	}
	return in.node.HostNames()
}

// tailnetSummary describes the tailnet side for the server_start record:
// the server's own node, which is never a caller's identity.
func (in *instance) tailnetSummary() string {
	c := in.cfg
	var addrs []string
	for _, a := range in.node.Addrs() {
		addrs = append(addrs, a.String())
	}
	name := in.node.Name()
	if name == "" {
		name = "(unnamed)"
	}
	allow := "none"
	if len(c.tsAllow) > 0 {
		var es []string
		for _, e := range c.tsAllow {
			es = append(es, e.String())
		}
		allow = strings.Join(es, ",")
	}
	return fmt.Sprintf("tailnet %s as node %s (%s); auth %s; capability %s; allow-list %s; loopback %s",
		c.tailnetMode, name, strings.Join(addrs, ", "), c.authMode, c.TSCapability, allow, map[bool]string{true: "allowed by token", false: "refused"}[c.AllowLoopback])
}
