// SPDX-License-Identifier: Apache-2.0

package main

import (
	"flag"
	"fmt"
	"io"
	"os/user"
	"strconv"

	"github.com/tailops/tailops/tools/systemd"
)

// runPolkitRule is `tailops polkit-rule`: it prints the polkit rule that
// lets the user TailOps runs as start, stop, restart and reload exactly
// the units of the server's --service-allow (flags, environment twins and
// config file read as serve reads them), to install as
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
	fmt.Fprint(stdout, rule)
	return nil
}
