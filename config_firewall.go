// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strconv"

	"github.com/tailops/tailops/tailnet"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/tools/firewall"
)

// resolveFirewall fills the firewall settings from the config file where
// flags and environment left them unset, and parses the ports.
func (c *config) resolveFirewall() error {
	fc := c.file
	if !c.set["firewall"] && fc.Firewall != nil {
		c.Firewall = *fc.Firewall
	}
	if !c.set["firewall-tailnet-interface"] && len(fc.FirewallTailnetInterfaces) > 0 {
		c.FirewallInterfaces = fc.FirewallTailnetInterfaces
	}
	c.firewallPorts = fc.FirewallTailnetPorts
	if c.set["firewall-tailnet-port"] {
		c.firewallPorts = nil
		for _, p := range c.FirewallPorts {
			n, err := strconv.ParseUint(p, 10, 16)
			if err != nil || n == 0 {
				return fmt.Errorf("--firewall-tailnet-port %q: want a port number from 1 to 65535", p)
			}
			c.firewallPorts = append(c.firewallPorts, uint16(n))
		}
	}
	if !c.Firewall {
		for _, name := range c.Tools {
			if slices.Contains(firewallTools(), name) {
				return fmt.Errorf("--tools names %s: the firewall tools are off; turn them on with --firewall (or \"firewall\": true)", name)
			}
		}
	}
	return nil
}

// firewallTools returns the firewall toolset's tools, offered only with
// --firewall (declared when asked, not at every start's package init).
func firewallTools() []string { return tools.Names(must(firewall.New(firewall.Config{})).Tools()) }

// firewallToolset returns the firewall toolset's name, for --toolsets.
func firewallToolset() string { return must(firewall.New(firewall.Config{})).Name() }

// must returns ts, the zero configuration never being invalid.
func must(ts *firewall.Toolset, err error) *firewall.Toolset {
	if err != nil {
		panic(err)
	}
	return ts
}

// firewallConfig is the firewall tools' configuration: the tailnet
// interfaces and UDP ports, and TailOps' own listener ports, which no
// rule may drop or reject.
func (c *config) firewallConfig(log *slog.Logger) firewall.Config {
	var tcp []uint16
	add := func(addr string) {
		if _, p, err := net.SplitHostPort(addr); err == nil {
			if n, err := strconv.ParseUint(p, 10, 16); err == nil && n != 0 && !slices.Contains(tcp, uint16(n)) {
				tcp = append(tcp, uint16(n))
			}
		}
	}
	if c.Listen != "" {
		add(c.Listen)
	}
	if c.MetricsListen != "" {
		add(c.MetricsListen)
	}
	if c.tailnetMode == tailnet.ModeTSNet {
		add(":443")
		add(":80")
	}
	return firewall.Config{TailnetInterfaces: c.FirewallInterfaces, ProtectedUDPPorts: c.firewallPorts, ProtectedTCPPorts: tcp, Logger: log}
}
