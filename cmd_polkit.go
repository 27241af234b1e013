// SPDX-License-Identifier: Apache-2.0

package main

import (
	"flag"
	"fmt"
	"io"
	"os/user"
	"slices"
	"strconv"

	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/tools/packages"
	"github.com/tailops/tailops/tools/systemd"
)

// runPolkitRule is `tailops polkit-rule`: it prints the polkit rules that
// let the user TailOps runs as start, stop, restart and reload exactly
// the units of the server's --service-allow (flags, environment twins and
// config file read as serve reads them) and, when the server would serve
// install_package or upgrade_packages, refresh, install and update
// trusted packages through PackageKit; to install as
// /etc/polkit-1/rules.d/50-tailops.rules.
func runPolkitRule(args []string, stdout, stderr io.Writer) error {
	cfg := &config{}
	fs := flag.NewFlagSet("tailops polkit-rule", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfg.bindServe(fs)
	var name string
	fs.StringVar(&name, "user", "", "the user TailOps runs as (default: this process's user)")
	if err := parseFlags(fs, args, cfg); err != nil {
		return err
	}
	// The rule grants the user it names: that is said on the command
	// line, never by a TAILOPS_USER left in an environment.
	if cfg.fromEnv["user"] {
		return fmt.Errorf("--user must be given on the command line: polkit-rule does not read %s", envName("user"))
	}
	if err := cfg.resolve(); err != nil {
		return err
	}
	if name == "" {
		u, err := user.Current()
		if err != nil {
			return fmt.Errorf("finding this process's user name (give --user): %w", err)
		}
		name = u.Username
		if u.Uid == strconv.Itoa(0) {
			return fmt.Errorf("this process runs as root, which polkit always allows: give --user, the user TailOps serves as")
		}
	}
	if len(cfg.ServiceAllow) == 0 {
		fmt.Fprintln(stderr, "tailops polkit-rule: --service-allow (service_allow) is empty: the rule allows no unit")
	}
	rule, err := systemd.PolkitRule(name, cfg.ServiceAllow)
	if err != nil {
		return err
	}
	pk, err := servesPackageKit(cfg)
	if err != nil {
		return err
	}
	if pk {
		r, err := packages.PolkitRule(name)
		if err != nil {
			return err
		}
		rule += "\n" + r
	}
	fmt.Fprint(stdout, rule)
	return nil
}

// servesPackageKit reports whether the server cfg configures would serve
// a tool that asks PackageKit to change packages.
func servesPackageKit(cfg *config) (bool, error) {
	sets := cfg.toolsets(nil, nil, nil)
	sel, err := cfg.selection(sets)
	if err != nil {
		return false, err
	}
	enabled, err := tools.Select(sets.specs(), sel)
	if err != nil {
		return false, fmt.Errorf("selecting tools: %w", err)
	}
	return slices.ContainsFunc(tools.Names(enabled), func(n string) bool { return n == "install_package" || n == "upgrade_packages" }), nil
}
