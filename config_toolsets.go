// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/tailops/tailops/tools"
)

// resolveToolsets fills --toolsets and --disable-destructive from the
// config file (keys toolsets and disable_destructive) where flags and
// environment left them unset.
func (c *config) resolveToolsets() {
	if !c.set["toolsets"] && len(c.file.Toolsets) > 0 {
		c.Toolsets = c.file.Toolsets
	}
	if !c.set["disable-destructive"] && c.file.DisableDestructive != nil {
		c.DisableDestructive = *c.file.DisableDestructive
	}
}

// toolsetsSource names where the toolset names came from, for messages.
func (c *config) toolsetsSource() string {
	if c.set["toolsets"] {
		return "--toolsets"
	}
	return fmt.Sprintf("config file %s: key \"toolsets\"", c.ConfigFile)
}

// selection is the tool selection of the flags and config file, which
// compose as README's "Choosing the tools" says: --toolsets picks whole
// toolsets (none given: all of them), --tools narrows to tools of those
// toolsets (naming another is an error), --disable-tools, --read-only and
// --disable-destructive then remove tools, whatever --tools says. The
// firewall tools are left out unless --firewall, the fleet tools unless --fleet. Names that match no
// toolset of sets are an error listing the known ones.
func (c *config) selection(sets *toolsetList) (tools.Selection, error) {
	known := sets.names()
	var unknown []string
	for _, n := range c.Toolsets {
		if !slices.Contains(known, n) {
			unknown = append(unknown, strconv.Quote(n))
		}
	}
	if len(unknown) > 0 {
		return tools.Selection{}, fmt.Errorf("%s: unknown toolset %s (known: %s); a domain this build does not have has no toolset",
			c.toolsetsSource(), strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	if !c.Firewall && slices.Contains(c.Toolsets, firewallToolset()) {
		return tools.Selection{}, fmt.Errorf("%s names firewall: the firewall tools are off; turn them on with --firewall (or \"firewall\": true)", c.toolsetsSource())
	}
	if len(c.Fleet) == 0 && slices.Contains(c.Toolsets, fleetToolset()) {
		return tools.Selection{}, fmt.Errorf("%s names fleet: the fleet tools are off; make this node a fleet entry point with --fleet tag:NAME", c.toolsetsSource())
	}
	sel := tools.Selection{Enable: c.Tools, Disable: slices.Clone(c.DisableTools), ReadOnly: c.ReadOnly, DisableDestructive: c.DisableDestructive}
	if !c.Firewall {
		sel.Disable = append(sel.Disable, firewallTools()...)
	}
	if len(c.Fleet) == 0 {
		sel.Disable = append(sel.Disable, fleetTools()...)
	}
	if len(c.Toolsets) == 0 {
		return sel, nil
	}
	for _, ts := range sets.sets {
		if slices.Contains(c.Toolsets, ts.Name()) {
			continue
		}
		names := tools.Names(ts.Tools())
		for _, n := range c.Tools {
			if slices.Contains(names, n) {
				return tools.Selection{}, fmt.Errorf("--tools names %s, a tool of the %s toolset, which %s leaves out (it selects %s); add %s to the toolsets or drop %s from the tools",
					n, ts.Name(), c.toolsetsSource(), strings.Join(c.Toolsets, ", "), ts.Name(), n)
			}
		}
		sel.Disable = append(sel.Disable, names...)
	}
	return sel, nil
}

// names returns the names of the toolsets, in order.
func (l *toolsetList) names() []string {
	out := make([]string, len(l.sets))
	for i, ts := range l.sets {
		out[i] = ts.Name()
	}
	return out
}
