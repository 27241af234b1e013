// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"log/slog"
	"slices"

	"github.com/tailops/tailops/fleet"
	"github.com/tailops/tailops/tailnet"
	"github.com/tailops/tailops/tools"
	fleettools "github.com/tailops/tailops/tools/fleet"
)

// resolveFleet fills --fleet from the config file (key "fleet") where
// the flag left it unset, and checks it: the fleet's members are found in
// the netmap of the server's own tsnet node and reached through it.
func (c *config) resolveFleet() error {
	if !c.set["fleet"] && len(c.file.Fleet) > 0 {
		c.Fleet = c.file.Fleet
	}
	if len(c.Fleet) == 0 {
		for _, name := range c.Tools {
			if slices.Contains(fleetTools(), name) {
				return fmt.Errorf("--tools names %s: the fleet tools are off; make this node a fleet entry point with --fleet tag:NAME", name)
			}
		}
		return nil
	}
	src := "--fleet"
	if !c.set["fleet"] {
		src = fmt.Sprintf("config file %s: key \"fleet\"", c.ConfigFile)
	}
	if c.tailnetMode != tailnet.ModeTSNet {
		return fmt.Errorf("%s needs --tailnet tsnet: a fleet entry point finds and reaches its members through a tailnet node of its own; "+
			"members refuse calls forwarded from a host's tailscaled (--tailnet local), which carries every local process's traffic "+
			"and so cannot vouch for whom a call is for", src)
	}
	if _, err := fleet.New(fleet.Config{Tags: c.Fleet}); err != nil {
		return fmt.Errorf("%s: %w", src, err)
	}
	return nil
}

// newFleet returns the fleet of --fleet, or nil without one; it is
// attached to the tailnet node once that is up (startTailnet).
func (c *config) newFleet(log *slog.Logger) *fleet.Fleet {
	if len(c.Fleet) == 0 {
		return nil
	}
	f, err := fleet.New(fleet.Config{Tags: c.Fleet, Version: version, Logger: log})
	if err != nil { // resolveFleet checked the tags
		panic(err)
	}
	return f
}

// fleetTools returns the fleet toolset's tools, offered only with
// --fleet.
func fleetTools() []string {
	ts, _ := fleettools.New(fleettools.Config{})
	return tools.Names(ts.Tools())
}

// fleetToolset returns the fleet toolset's name, for --toolsets.
func fleetToolset() string {
	ts, _ := fleettools.New(fleettools.Config{})
	return ts.Name()
}
