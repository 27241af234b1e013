// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"path/filepath"

	"github.com/tailops/tailops/tools/files"
)

// serverPaths returns every path the server itself keeps secrets or state
// in, from the resolved configuration: the state directory (which holds
// the shared secret by default, the approval store and its digest key,
// the approvals socket and the tailnet node's state), the audit log's
// directory, and each secret or configuration file it reads. It is the
// one list: the file tools' start check (files.New, in serve and in
// sandbox explain|check) and their own wall (files.Config.Protected) both
// use it.
func (c *config) serverPaths() []files.ProtectedPath {
	ps := []files.ProtectedPath{
		{Path: c.StateDir, What: "the state directory (--state-dir)"},
		{Path: filepath.Dir(c.AuditLog), What: "the audit log's directory (--audit-log)"},
	}
	add := func(p, what string) {
		if p != "" {
			ps = append(ps, files.ProtectedPath{Path: p, What: what})
		}
	}
	add(c.SecretFile, "the shared-secret file (--shared-secret-file)")
	add(c.Approvals.WebhookSecretFile, "the approval webhook's secret file (--approval-webhook-secret-file)")
	add(c.JWKSFile, "the JWKS file (--jwks-file)")
	add(c.ConfigFile, "the config file (--config)")
	add(c.TSAuthKeyFile, "the Tailscale auth key file (--ts-authkey-file)")
	add(c.file.GitSSHKeyFile, "the git deploy key (config key git_ssh_key_file)")
	// The Docker client's TLS key, when the Docker tools use one.
	if dir := c.env.dockerCertPath; dir != "" {
		add(filepath.Join(dir, "key.pem"), "the Docker client's TLS key (DOCKER_CERT_PATH)")
	}
	return ps
}

// fileConfigError names where the file tools' configuration came from in
// the error files.New found in it: the roots (--file-root, the config
// file's file_roots, or the default), which must be absolute and reach
// none of the server's own paths (serverPaths), or the deny patterns
// (the config file's file_deny).
func (c *config) fileConfigError(err *files.ConfigError) error {
	switch {
	case err.Field == "Deny":
		return fmt.Errorf("config file %s: key \"file_deny\": %w", c.ConfigFile, err)
	case c.set["file-root"]:
		return fmt.Errorf("--file-root %w", err)
	case len(c.file.FileRoots) > 0:
		return fmt.Errorf("config file %s: key \"file_roots\": %w", c.ConfigFile, err)
	}
	return fmt.Errorf("the default --file-root %w", err)
}
