// SPDX-License-Identifier: Apache-2.0

package main

import (
	"flag"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/tailops/tailops/gitsource"
	"github.com/tailops/tailops/tools/stacks"
)

// bindStacks registers the stacks tools' flags.
func bindStacks(fs *flag.FlagSet, c *config) {
	fs.Var(&c.StackRoots, "stack-root", "directory of compose stacks, one directory each with its compose.yaml (the Dockge layout), that the stacks tools list and deploy (repeatable; default none)")
	fs.Var(&c.StackBindRoots, "stack-bind-root", "host directory every stack's bind mounts may come from besides its own directory (repeatable; default none)")
	fs.Var(&c.GitHosts, "git-host", "git server deploy_stack may fetch a stack's repository from: host, or host:port (repeatable; default none: git sources are refused)")
}

// resolveStacks fills the stack roots, bind roots and git hosts from the
// config file (stack_roots, stack_bind_roots, git_hosts) where flags and
// environment left them unset, and checks the roots and the git files
// are absolute.
func (c *config) resolveStacks() error {
	if !c.set["git-host"] && len(c.file.GitHosts) > 0 {
		c.GitHosts = c.file.GitHosts
	}
	for key, p := range map[string]string{"git_known_hosts": c.file.GitKnownHosts, "git_ssh_key_file": c.file.GitSSHKeyFile} {
		if p != "" && !filepath.IsAbs(p) {
			return fmt.Errorf("config file %s: key %q: %q: must be an absolute path", c.ConfigFile, key, p)
		}
	}
	for _, l := range []struct {
		flag, key string
		v         *listFlag
		file      []string
	}{
		{"stack-root", "stack_roots", &c.StackRoots, c.file.StackRoots},
		{"stack-bind-root", "stack_bind_roots", &c.StackBindRoots, c.file.StackBindRoots},
	} {
		if !c.set[l.flag] && len(l.file) > 0 {
			*l.v = l.file
		}
		for _, d := range *l.v {
			switch {
			case filepath.IsAbs(d):
			case c.set[l.flag]:
				return fmt.Errorf("--%s %q: must be an absolute path", l.flag, d)
			default:
				return fmt.Errorf("config file %s: key %q: %q: must be an absolute path", c.ConfigFile, l.key, d)
			}
		}
	}
	return nil
}

// stacksConfig is the stacks tools' configuration: the Docker endpoint,
// the stack roots and bind roots, the per-stack policies of the config
// file's stacks key, the state directory for the history, and the git
// hosts, known_hosts and deploy key of git sources.
func (c *config) stacksConfig(log *slog.Logger) stacks.Config {
	return stacks.Config{Host: c.env.dockerHost, Self: selfContainer(), StackRoots: c.StackRoots, BindRoots: c.StackBindRoots,
		Policies: c.file.Stacks, StateDir: c.StateDir, Logger: log,
		Git: gitsource.Config{Hosts: c.GitHosts, KnownHostsFile: c.file.GitKnownHosts, SSHKeyFile: c.file.GitSSHKeyFile}}
}
