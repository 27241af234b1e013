// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tailops/tailops/tools/stacks"
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

// TestStacksPolicyConfig: the config file's stacks key reaches the stacks
// tools as each stack's policy, the network keys (external_networks,
// network_drivers, network_ipam) as the volume keys do, and a misspelt key is refused,
// not read as nothing allowed.
func TestStacksPolicyConfig(t *testing.T) {
	for _, tc := range []struct {
		name, file string
		want       stacks.Policy
		wantErr    string
	}{
		{"volumes", `{"stacks": {"media": {"external_volumes": ["jellyfin_cache"], "volume_drivers": ["local-persist"]}}}`,
			stacks.Policy{ExternalVolumes: []string{"jellyfin_cache"}, VolumeDrivers: []string{"local-persist"}}, ""},
		{"networks", `{"stacks": {"media": {"network_host": true, "external_networks": ["proxy"], "network_drivers": ["macvlan"], "network_ipam": true}}}`,
			stacks.Policy{NetworkHost: true, ExternalNetworks: []string{"proxy"}, NetworkDrivers: []string{"macvlan"}, NetworkIPAM: true}, ""},
		{"misspelt", `{"stacks": {"media": {"external_network": ["proxy"]}}}`, stacks.Policy{}, "external_network"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "config.hujson")
			if err := os.WriteFile(path, []byte(tc.file), 0o600); err != nil {
				t.Fatal(err)
			}
			fc, err := loadFileConfig(path)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("loadFileConfig: %v, want an error naming %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			c := &config{ConfigFile: path, file: fc, set: map[string]bool{}}
			got := c.stacksConfig(nil).Policies["media"]
			if !reflect.DeepEqual(got, tc.want) {
				t.Errorf("stack media's policy %+v, want %+v", got, tc.want)
			}
		})
	}
}
