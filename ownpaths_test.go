// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// runRefused runs bin with args and env and returns its stderr, failing
// t unless it exits non-zero within 30 s (a server that starts instead
// is killed then).
func runRefused(t *testing.T, bin string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("%v: still running after 30 s (it started instead of refusing):\n%s", args, stderr.String())
	}
	if err == nil {
		t.Fatalf("%v: exit 0, want a refusal:\n%s", args, stderr.String())
	}
	return stderr.String()
}

// mkdirs creates each directory (with parents) and returns the first.
func mkdirs(t *testing.T, dirs ...string) string {
	t.Helper()
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o700); err != nil {
			t.Fatal(err)
		}
	}
	return dirs[0]
}

// writeFile writes content to name, creating its directory.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	mkdirs(t, filepath.Dir(name))
	if err := os.WriteFile(name, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return name
}

// TestServeRefusesRootsThatReachServerPaths starts the build whose file
// tools have no checks of their own (tailops_nocheck: no deny-list, no
// wall around the server's paths), so that only the start check stands
// between a file root and the server's secrets: for each kind of path
// the server keeps secrets or state in, a root that contains it or lies
// inside it (a file: is it), spelled directly or through a symlink, and a
// state directory that does not exist yet, `serve` exits non-zero with one
// message naming the option, both paths and what the server keeps there.
// sandbox explain and check refuse the same configurations.
func TestServeRefusesRootsThatReachServerPaths(t *testing.T) {
	type tc struct {
		name   string
		args   []string // besides --state-dir (a fresh directory unless args set it)
		env    []string
		option string // how the message names the roots' source
		root   string // the root the message must name
		server string // the server path the message must name
		want   string
	}
	var cases []tc
	add := func(c tc) { cases = append(cases, c) }

	d := t.TempDir()
	state := filepath.Join(d, "a", "state")
	mkdirs(t, state)
	add(tc{"root contains the state directory", []string{"--state-dir", state, "--file-root", filepath.Join(d, "a")}, nil,
		"--file-root", filepath.Join(d, "a"), state, "contains the state directory (--state-dir)"})
	inside := mkdirs(t, filepath.Join(state, "logs"))
	add(tc{"root inside the state directory", []string{"--state-dir", state, "--file-root", inside}, nil,
		"--file-root", inside, state, "lies inside the state directory (--state-dir)"})
	add(tc{"root is the state directory", []string{"--state-dir", state, "--file-root", state}, nil,
		"--file-root", state, state, "is the state directory (--state-dir)"})
	fresh := filepath.Join(d, "b", "not", "yet", "state")
	mkdirs(t, filepath.Join(d, "b"))
	add(tc{"state directory not created yet", []string{"--state-dir", fresh, "--file-root", filepath.Join(d, "b")}, nil,
		"--file-root", filepath.Join(d, "b"), fresh, "contains the state directory (--state-dir)"})

	auditDir := mkdirs(t, filepath.Join(d, "c", "audit"))
	add(tc{"root contains the audit directory", []string{"--audit-log", filepath.Join(auditDir, "audit.log"), "--file-root", filepath.Join(d, "c")}, nil,
		"--file-root", filepath.Join(d, "c"), auditDir, "contains the audit log's directory (--audit-log)"})
	auditInside := mkdirs(t, filepath.Join(auditDir, "old"))
	add(tc{"root inside the audit directory", []string{"--audit-log", filepath.Join(auditDir, "audit.log"), "--file-root", auditInside}, nil,
		"--file-root", auditInside, auditDir, "lies inside the audit log's directory (--audit-log)"})

	// The default root, /var/log, with the audit log under it (nothing is
	// created there: the start is refused first).
	varLogAudit := filepath.Join("/var/log", "tailops-test-"+filepath.Base(d))
	t.Cleanup(func() { os.RemoveAll(varLogAudit) })
	add(tc{"the default root contains the audit directory", []string{"--audit-log", filepath.Join(varLogAudit, "audit.log")}, nil,
		"the default --file-root", "/var/log", varLogAudit, "contains the audit log's directory (--audit-log)"})

	secret := writeFile(t, filepath.Join(d, "e", "secret"), "0123456789abcdef0123456789abcdef")
	add(tc{"root contains the shared-secret file", []string{"--shared-secret-file", secret, "--file-root", filepath.Join(d, "e")}, nil,
		"--file-root", filepath.Join(d, "e"), secret, "contains the shared-secret file (--shared-secret-file)"})
	add(tc{"root is the shared-secret file", []string{"--shared-secret-file", secret, "--file-root", secret}, nil,
		"--file-root", secret, secret, "is the shared-secret file (--shared-secret-file)"})

	webhook := writeFile(t, filepath.Join(d, "f", "webhook.secret"), "0123456789abcdef0123456789abcdef")
	add(tc{"root contains the webhook secret", []string{"--approval-webhook", "http://127.0.0.1:9/hook", "--approval-webhook-secret-file", webhook,
		"--file-root", filepath.Join(d, "f")}, nil,
		"--file-root", filepath.Join(d, "f"), webhook, "contains the approval webhook's secret file (--approval-webhook-secret-file)"})

	jwks := writeFile(t, filepath.Join(d, "g", "jwks.json"), `{"keys": []}`)
	add(tc{"root contains the JWKS file", []string{"--jwks-file", jwks, "--file-root", filepath.Join(d, "g")}, nil,
		"--file-root", filepath.Join(d, "g"), jwks, "contains the JWKS file (--jwks-file)"})

	cfg := writeFile(t, filepath.Join(d, "h", "tailops.hujson"), "{}")
	add(tc{"root contains the config file", []string{"--config", cfg, "--file-root", filepath.Join(d, "h")}, nil,
		"--file-root", filepath.Join(d, "h"), cfg, "contains the config file (--config)"})
	cfgRoots := writeFile(t, filepath.Join(d, "i", "tailops.hujson"), `{"file_roots": ["`+filepath.Join(d, "i")+`"]}`)
	add(tc{"the config file's own file_roots contain it", []string{"--config", cfgRoots}, nil,
		`key "file_roots"`, filepath.Join(d, "i"), cfgRoots, "contains the config file (--config)"})

	authKey := writeFile(t, filepath.Join(d, "j", "ts.key"), "tskey-auth-test")
	add(tc{"root contains the Tailscale auth key file", []string{"--tailnet", "tsnet", "--ts-authkey-file", authKey, "--file-root", filepath.Join(d, "j")}, nil,
		"--file-root", filepath.Join(d, "j"), authKey, "contains the Tailscale auth key file (--ts-authkey-file)"})

	certs := mkdirs(t, filepath.Join(d, "k", "docker"))
	add(tc{"root contains the Docker client's TLS key", []string{"--file-root", filepath.Join(d, "k")}, []string{"DOCKER_CERT_PATH=" + certs},
		"--file-root", filepath.Join(d, "k"), filepath.Join(certs, "key.pem"), "contains the Docker client's TLS key (DOCKER_CERT_PATH)"})

	deployKey := writeFile(t, filepath.Join(d, "m", "deploy_key"), "-----BEGIN OPENSSH PRIVATE KEY-----\n")
	gitCfg := writeFile(t, filepath.Join(d, "n", "tailops.hujson"), `{"git_ssh_key_file": "`+deployKey+`"}`)
	add(tc{"root contains the git deploy key", []string{"--config", gitCfg, "--file-root", filepath.Join(d, "m")}, nil,
		"--file-root", filepath.Join(d, "m"), deployKey, "contains the git deploy key (config key git_ssh_key_file)"})

	// Symlinked spellings, on either side.
	real := mkdirs(t, filepath.Join(d, "l", "real"), filepath.Join(d, "l", "real", "state"))
	link := filepath.Join(d, "l", "link")
	if err := os.Symlink(real, link); err != nil {
		t.Fatal(err)
	}
	add(tc{"a symlinked root", []string{"--state-dir", filepath.Join(real, "state"), "--file-root", link}, nil,
		"--file-root", link, filepath.Join(real, "state"), "contains the state directory (--state-dir)"})
	add(tc{"a symlinked state directory", []string{"--state-dir", filepath.Join(link, "state"), "--file-root", real}, nil,
		"--file-root", real, filepath.Join(link, "state"), "contains the state directory (--state-dir)"})
	add(tc{"a symlinked state directory not created yet", []string{"--state-dir", filepath.Join(link, "new", "state"), "--file-root", real}, nil,
		"--file-root", real, filepath.Join(link, "new", "state"), "contains the state directory (--state-dir)"})

	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"serve", "--sandbox", "off"}, c.args...)
			if !strings.Contains(strings.Join(c.args, " "), "--state-dir") {
				args = append(args, "--state-dir", t.TempDir())
			}
			stderr := runRefused(t, probePath, c.env, args...)
			for _, want := range []string{c.option, `"` + c.root + `"`, `"` + c.server + `"`, c.want} {
				if !strings.Contains(stderr, want) {
					t.Errorf("the refusal does not say %s:\n%s", want, stderr)
				}
			}
			// One error message (log lines about opening the roots may
			// come before it).
			if n := strings.Count("\n"+stderr, "\ntailops: "); n != 1 {
				t.Errorf("want one error message, got %d:\n%s", n, stderr)
			}
		})
	}

	// sandbox explain and check resolve the same configuration, and refuse
	// it the same way.
	for _, cmd := range []string{"explain", "check"} {
		stderr := runRefused(t, binPath, nil, "sandbox", cmd, "--state-dir", state, "--file-root", filepath.Join(d, "a"))
		if !strings.Contains(stderr, `--file-root "`+filepath.Join(d, "a")+`" contains the state directory (--state-dir)`) {
			t.Errorf("sandbox %s: %s", cmd, stderr)
		}
	}

	// The same roots beside the server's paths, or with no file tool
	// enabled, are fine.
	p := runBinary(t, probePath, "--file-root", filepath.Join(d, "b"), "--sandbox", "off")
	if !p.waitLog("serving MCP") {
		t.Errorf("a root beside the state directory: %s", p.Stderr)
	}
	p = runBinaryAs(t, nil, state, nil, probePath, "--file-root", filepath.Join(d, "a"), "--sandbox", "off",
		"--disable-tools", "list_directory,get_file_info,read_file,tail_file,search_files,scan_secrets")
	if !p.waitLog("serving MCP") {
		t.Errorf("a root holding the state directory, no file tool: %s", p.Stderr)
	}
}
