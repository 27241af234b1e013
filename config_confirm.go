// SPDX-License-Identifier: Apache-2.0

package main

import (
	"flag"
	"fmt"
	"slices"

	"github.com/tailops/tailops/tools"
)

// The words --confirm and the config key confirm take besides tool names.
const (
	confirmDefault = "default" // the high-risk tools (not the critical ones: they wait for approval)
	confirmNone    = "none"
)

// bindConfirm registers --confirm.
func bindConfirm(fs *flag.FlagSet, l *listFlag) {
	fs.Var(l, "confirm", "tools whose calls the user must confirm in the MCP client (elicitation) before they run: names, "+
		"default (every high-risk tool) or none (comma-separated, repeatable; default: default)")
}

// confirmTools resolves --confirm, or the config file's key confirm when
// the flag and environment left it unset, against all the tools this
// build offers: the names, with default standing for every tool declared
// high risk. An unknown name stops the start.
func (c *config) confirmTools(all []tools.Spec) ([]string, error) {
	words, src := []string(c.Confirm), "--confirm"
	if !c.set["confirm"] && c.file.Confirm != nil {
		words, src = c.file.Confirm, fmt.Sprintf("config file %s: key %q", c.ConfigFile, "confirm")
	}
	if len(words) == 0 {
		words = []string{confirmDefault}
	}
	if slices.Contains(words, confirmNone) {
		if len(words) > 1 {
			return nil, fmt.Errorf("%s: %q cannot be combined with tools or %q", src, confirmNone, confirmDefault)
		}
		return nil, nil
	}
	var names []string
	for _, w := range words {
		if w == confirmDefault {
			names = append(names, defaultConfirm(all)...)
			c.confirmLowered = true
			continue
		}
		if err := tools.CheckNames(all, []string{w}); err != nil {
			return nil, fmt.Errorf("%s: %w", src, err)
		}
		names = append(names, w)
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// defaultConfirm are the tools confirm's default names: those declared
// high risk. Critical tools are left to approval; a critical tool's call
// that its arguments lower to high (stop_service with service_high_risk)
// waits for none, and default confirms such a call by itself
// (server.Config.ConfirmLowered).
func defaultConfirm(all []tools.Spec) []string {
	var out []string
	for i := range all {
		if all[i].Risk == tools.RiskHigh {
			out = append(out, all[i].Name())
		}
	}
	return out
}
