// SPDX-License-Identifier: Apache-2.0

package main

import (
	"slices"
	"strings"
	"testing"
)

// TestGitConfig: git_hosts comes from the config file unless --git-host
// (or TAILOPS_GIT_HOST) is set, git_known_hosts and git_ssh_key_file
// must be absolute, and all three reach the stacks tools' gitsource
// configuration.
func TestGitConfig(t *testing.T) {
	for _, tc := range []struct {
		name      string
		flag      []string
		file      fileConfig
		wantHosts []string
		wantErr   string
	}{
		{"file", nil, fileConfig{GitHosts: []string{"git.lan"}, GitKnownHosts: "/etc/tailops/known_hosts", GitSSHKeyFile: "/etc/tailops/key"}, []string{"git.lan"}, ""},
		{"flag over file", []string{"forge.lan:2222"}, fileConfig{GitHosts: []string{"git.lan"}}, []string{"forge.lan:2222"}, ""},
		{"none", nil, fileConfig{}, nil, ""},
		{"relative known_hosts", nil, fileConfig{GitKnownHosts: "known_hosts"}, nil, `"git_known_hosts"`},
		{"relative key", nil, fileConfig{GitSSHKeyFile: "key"}, nil, `"git_ssh_key_file"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := &config{ConfigFile: "/etc/tailops/config.hujson", file: tc.file, set: map[string]bool{}}
			if tc.flag != nil {
				c.GitHosts, c.set["git-host"] = tc.flag, true
			}
			err := c.resolveStacks()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("resolveStacks: %v, want an error naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			g := c.stacksConfig(nil).Git
			if !slices.Equal(g.Hosts, tc.wantHosts) || g.KnownHostsFile != tc.file.GitKnownHosts || g.SSHKeyFile != tc.file.GitSSHKeyFile {
				t.Errorf("gitsource config %+v, want hosts %v and the file's paths", g, tc.wantHosts)
			}
		})
	}
}
