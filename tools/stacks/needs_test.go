// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"path/filepath"
	"slices"
	"testing"

	"github.com/tailops/tailops/gitsource"
)

// TestGitNeeds: with git hosts, the tools that reach a git server
// (deploy_stack, update_stack, get_stack_status) need TCP to any port,
// DNS and the known_hosts and key files, and may write the state
// directory's stacks directory (the checkouts); the others, and every
// tool without git hosts, need no network.
func TestGitNeeds(t *testing.T) {
	state := t.TempDir()
	fetching := []string{"deploy_stack", "update_stack", "get_stack_status"}
	for _, tc := range []struct {
		name string
		git  gitsource.Config
	}{
		{"git hosts", gitsource.Config{Hosts: []string{"git.lan"}, KnownHostsFile: "/etc/tailops/known_hosts", SSHKeyFile: "/etc/tailops/key"}},
		{"no git hosts", gitsource.Config{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, err := New(Config{StateDir: state, Git: tc.git})
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range ts.Tools() {
				n := s.Needs
				net := len(tc.git.Hosts) > 0 && slices.Contains(fetching, s.Tool.Name)
				if n.AnyTCPPort != net || n.DNS != net {
					t.Errorf("%s: AnyTCPPort %v, DNS %v; want %v", s.Tool.Name, n.AnyTCPPort, n.DNS, net)
				}
				files := slices.Contains(n.Read, "/etc/tailops/known_hosts") && slices.Contains(n.Read, "/etc/tailops/key")
				if files != net {
					t.Errorf("%s: reads %v; want the git files: %v", s.Tool.Name, n.Read, net)
				}
				if s.Tool.Name == "deploy_stack" && !slices.Equal(n.Write, []string{filepath.Join(state, "stacks")}) {
					t.Errorf("deploy_stack writes %v, want the stacks' state directory", n.Write)
				}
			}
		})
	}
}
