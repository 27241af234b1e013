// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tailops/tailops/gitsource"
	"github.com/tailops/tailops/gitsource/gittest"
	"github.com/tailops/tailops/toolstest"
)

// TestDeployFromGitOverSSH deploys a stack from an ssh:// repository on
// a real sshd (Debian's openssh-server) with the deploy key file and the
// pinned known_hosts file of the configuration (git_ssh_key_file,
// git_known_hosts), then reads it back.
func TestDeployFromGitOverSSH(t *testing.T) {
	r := newGitStackRepo(t)
	s := gittest.ServeSSH(t)
	k := newStacksLabGit(t, true, sshConfig(s, s.KnownHosts))
	k.tagGitImage(t)
	const name = "gitssh"
	k.cleanup(t, name)
	url := s.URL(r.bare)
	dep := toolstest.OK[DeployResult](t, k.c, "deploy_stack", map[string]any{"name": name, "repo": url, "path": "deploy/compose.yaml"})
	if dep.Commit != r.second || dep.Repo != url {
		t.Fatalf("deploy_stack over ssh: %+v; want commit %s from %s", dep, r.second, url)
	}
	if d := k.lastDeployment(t, name); d.Action != "deploy" || d.Result != "ok" || d.Commit != r.second || d.Repo != url {
		t.Errorf("history: %+v", d)
	}
	cs, _, _ := k.projectResources(t, name)
	if len(cs) != 1 || cs[0] != name+"-app-1" {
		t.Errorf("containers after the deploy: %v", cs)
	}
	// The status asks the remote again, over ssh with the same key.
	st := toolstest.OK[StackStatus](t, k.c, "get_stack_status", map[string]any{"name": name})
	if st.Commit != r.second || st.RemoteCommit != r.second || st.RemoteMoved || st.Note != "" {
		t.Errorf("get_stack_status: %+v", st)
	}
}

// TestDeployFromGitOverSSHHostKeyMismatch: an ssh server whose host key
// is not the one known_hosts pins for it is refused before anything is
// fetched or created, with an error that names git_known_hosts; the
// same for a known_hosts that lists the key under another port.
func TestDeployFromGitOverSSHHostKeyMismatch(t *testing.T) {
	r := newGitStackRepo(t)
	s := gittest.ServeSSH(t)
	other := gittest.NewKey(t, filepath.Join(t.TempDir(), "other"))
	for _, tc := range []struct{ name, knownHosts string }{
		{"sshwrongkey", s.KnownHostsLine(other)},
		{"sshwrongport", strings.Replace(s.KnownHostsLine(s.HostKey), "["+strings.Replace(s.HostPort(), ":", "]:", 1), "127.0.0.1", 1)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			kh := filepath.Join(t.TempDir(), "known_hosts")
			if err := os.WriteFile(kh, []byte(tc.knownHosts), 0o600); err != nil {
				t.Fatal(err)
			}
			k := newStacksLabGit(t, true, sshConfig(s, kh))
			k.tagGitImage(t)
			k.cleanup(t, tc.name)
			_, err := k.ts.deployStack(t.Context(), DeployArgs{Name: tc.name, Repo: s.URL(r.bare), Path: "deploy/compose.yaml"})
			if !errors.Is(err, gitsource.ErrHostKeyMismatch) || !strings.Contains(err.Error(), "git_known_hosts") {
				t.Fatalf("deploy_stack from a server with another host key: %v; want ErrHostKeyMismatch naming git_known_hosts", err)
			}
			// Through the server too, as a tool error the caller reads.
			text := toolstest.Err(t, k.c, "deploy_stack", map[string]any{"name": tc.name, "repo": s.URL(r.bare), "path": "deploy/compose.yaml"})
			if !strings.Contains(text, "host key") || !strings.Contains(text, "git_known_hosts") {
				t.Errorf("deploy_stack's error: %q", text)
			}
			if cs, nets, vols := k.projectResources(t, tc.name); len(cs)+len(nets)+len(vols) != 0 {
				t.Errorf("a refused deploy created containers %v, networks %v, volumes %v", cs, nets, vols)
			}
			// The stack's git directory may be made; no checkout is left in it.
			if left, err := os.ReadDir(filepath.Join(k.state, "stacks", tc.name, "git")); len(left) != 0 || (err != nil && !errors.Is(err, os.ErrNotExist)) {
				t.Errorf("a refused deploy left a checkout: %v %v", left, err)
			}
			if h := toolstest.OK[StackHistory](t, k.c, "get_stack_history", map[string]any{"name": tc.name}); len(h.Deployments) != 0 {
				t.Errorf("a refused deploy is in the history: %+v", h.Deployments)
			}
		})
	}
}

// sshConfig reaches s with its deploy key and the known_hosts file kh.
func sshConfig(s *gittest.SSHServer, kh string) gitsource.Config {
	return gitsource.Config{Hosts: []string{s.HostPort()}, KnownHostsFile: kh, SSHKeyFile: s.KeyFile, Timeout: time.Minute}
}
