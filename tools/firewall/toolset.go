// SPDX-License-Identifier: Apache-2.0

// Package firewall is the toolset of the host's nftables firewall, over
// netlink (never by running nft or iptables): get_firewall_rules reads the
// whole ruleset (scope security:read), add_firewall_rule and
// delete_firewall_rule edit TailOps' own table, inet tailops, and no other
// (scope security:write, critical). Rules are structured and validated;
// a rule that would cut TailOps off its tailnet is refused.
//
// Netlink's nftables subsystem answers only a process with CAP_NET_ADMIN
// in the network namespace of the socket, even for reading: this is a
// host-mode toolset.
package firewall

import (
	"cmp"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"syscall"

	"github.com/google/nftables"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/tools"
)

// DefaultTailnetInterface is the interface tailscaled creates.
const DefaultTailnetInterface = "tailscale0"

// DefaultTailscalePort is tailscaled's default UDP port (WireGuard and
// disco).
const DefaultTailscalePort = 41641

// Config configures the firewall tools. The zero value protects
// tailscale0 and UDP port 41641, and no TCP port.
type Config struct {
	// TailnetInterfaces are the interfaces no rule may drop or reject
	// traffic on (--firewall-tailnet-interface); empty means tailscale0.
	TailnetInterfaces []string
	// ProtectedTCPPorts are TailOps' own listener ports, which no drop or
	// reject rule may cover.
	ProtectedTCPPorts []uint16
	// ProtectedUDPPorts are the Tailscale UDP ports (tailscaled's or
	// tsnet's, --firewall-tailnet-port), which no drop or reject rule may
	// cover; empty means 41641.
	ProtectedUDPPorts []uint16
	// MaxRules bounds the rules get_firewall_rules returns; 0 means 2000.
	MaxRules int
	// Logger receives the tools' own log lines; nil means slog.Default().
	Logger *slog.Logger
}

// Toolset is the firewall toolset, built by New.
type Toolset struct {
	fw    *firewall
	specs []tools.Spec
}

var _ tools.Toolset = (*Toolset)(nil)

// New validates cfg and declares the firewall tools. On error the Toolset
// is still returned, its tools unavailable (tools.Unavailable).
func New(cfg Config) (*Toolset, error) {
	cfg.TailnetInterfaces = slices.Clone(cfg.TailnetInterfaces)
	if len(cfg.TailnetInterfaces) == 0 {
		cfg.TailnetInterfaces = []string{DefaultTailnetInterface}
	}
	cfg.ProtectedUDPPorts = slices.Clone(cfg.ProtectedUDPPorts)
	if len(cfg.ProtectedUDPPorts) == 0 {
		cfg.ProtectedUDPPorts = []uint16{DefaultTailscalePort}
	}
	cfg.ProtectedTCPPorts = slices.Clone(cfg.ProtectedTCPPorts)
	cfg.MaxRules = cmp.Or(cfg.MaxRules, 2000)
	fw := &firewall{cfg: cfg, log: cmp.Or(cfg.Logger, slog.Default())}
	t := &Toolset{fw: fw}
	t.specs = fw.declare()
	var err error
	for _, i := range cfg.TailnetInterfaces {
		if e := checkIfname(i); e != nil {
			err = fmt.Errorf("tailnet interface %q: %w", i, e)
			break
		}
	}
	if err == nil && slices.Contains(cfg.ProtectedUDPPorts, 0) {
		err = errors.New("tailnet UDP port 0 is not a port")
	}
	if err != nil {
		t.specs = tools.Unavailable(t.specs, fmt.Errorf("the firewall configuration is invalid: %w", err))
	}
	return t, err
}

// Name returns "firewall".
func (t *Toolset) Name() string { return "firewall" }

// Tools returns the firewall tools.
func (t *Toolset) Tools() []tools.Spec { return slices.Clone(t.specs) }

// needs is what every firewall tool needs from the kernel: a
// NETLINK_NETFILTER socket, and CAP_NET_ADMIN kept when TailOps runs with
// it.
var needs = sandbox.Needs{Netlink: []string{"NETLINK_NETFILTER"}, Capabilities: []string{"CAP_NET_ADMIN"}}

// firewall is what the firewall tools share.
type firewall struct {
	cfg Config
	log *slog.Logger
}

// declare declares the firewall tools.
func (f *firewall) declare() []tools.Spec {
	return []tools.Spec{
		tools.TypedSpec[RulesArgs, Ruleset]{
			Name: "get_firewall_rules", Title: "Get firewall rules",
			Description: "Read the host's nftables ruleset over netlink: tables, chains (hook, priority, policy), sets and rules with " +
				"their counters, including the rules iptables-nft, ufw, firewalld and Docker put there. Each rule is rendered as nft-like " +
				"text; what cannot be rendered is named, never dropped. Rules TailOps added (table inet tailops) carry their id. " +
				"Needs CAP_NET_ADMIN in the host's network namespace.",
			Scope: auth.ScopeSecurityRead, Risk: tools.RiskLow,
			Hints: tools.Hints{ReadOnly: true, Idempotent: true},
			Needs: needs,
			Run:   f.getRules,
			Text:  rulesetText,
		}.Spec(),
		tools.TypedSpec[AddRuleArgs, AddRuleResult]{
			Name: "add_firewall_rule", Title: "Add firewall rule",
			Description: "Add a rule to TailOps' own nftables table (inet tailops, created on first use with input, forward and output " +
				"filter chains, policy accept), never to another table. The rule is structured: chain, family, protocol, source and " +
				"destination addresses or CIDRs, ports or port ranges, interfaces, conntrack states and a verdict (accept, drop, reject). " +
				"A drop or reject rule that would match the tailnet interface, TailOps' own listener port or the Tailscale UDP port is " +
				"refused. Returns the rule's handle and id, for delete_firewall_rule.",
			Scope: auth.ScopeSecurityWrite, Risk: tools.RiskCritical,
			Hints: tools.Hints{Destructive: true},
			Needs: needs,
			Run:   f.addRule,
		}.Spec(),
		tools.TypedSpec[DeleteRuleArgs, DeleteRuleResult]{
			Name: "delete_firewall_rule", Title: "Delete firewall rule",
			Description: "Delete one rule from TailOps' own nftables table (inet tailops), by its handle or by the id add_firewall_rule " +
				"gave it. Rules of other tables are never touched.",
			Scope: auth.ScopeSecurityWrite, Risk: tools.RiskCritical,
			Hints: tools.Hints{Destructive: true, Idempotent: false},
			Needs: needs,
			Run:   f.deleteRule,
		}.Spec(),
	}
}

// conn opens a netlink connection to nftables, one socket for the call.
func (f *firewall) conn() (*nftables.Conn, error) {
	c, err := nftables.New(nftables.AsLasting())
	if err != nil {
		return nil, netlinkError("opening a netlink socket to nftables", err)
	}
	return c, nil
}

// netlinkError wraps err with what was being done, and turns a refusal by
// the kernel into what the person running TailOps can do about it.
func netlinkError(doing string, err error) error {
	if errors.Is(err, syscall.EPERM) || errors.Is(err, syscall.EACCES) {
		return fmt.Errorf("%s: the kernel refused (%w): nftables answers only a process with CAP_NET_ADMIN in the host's "+
			"network namespace, even for reading. Run TailOps as root on the host, or give it the capability as an ambient "+
			"one (systemd AmbientCapabilities=CAP_NET_ADMIN; the NixOS module's services.tailops.firewall.enable does it); "+
			"in a container use --network host --cap-add NET_ADMIN with --user 0 (see the README's Firewall section)", doing, err)
	}
	return fmt.Errorf("%s: %w", doing, err)
}
