// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"path/filepath"
	"slices"

	"github.com/tailops/tailops/tools"
)

// serverPaths returns every path the server itself keeps secrets or state
// in, from the resolved configuration: the state directory (which holds
// the shared secret by default, the approval store and its digest key,
// the approvals socket and the tailnet node's state), the audit log's
// directory, and each secret or configuration file it reads. It is the
// one list: the start check (checkFileRoots, in serve and in sandbox
// explain|check) and the file tools' own wall (tools.Deps.Protected) both
// use it.
func (c *config) serverPaths() []tools.ProtectedPath {
	ps := []tools.ProtectedPath{
		{Path: c.StateDir, What: "the state directory (--state-dir)"},
		{Path: filepath.Dir(c.AuditLog), What: "the audit log's directory (--audit-log)"},
	}
	add := func(p, what string) {
		if p != "" {
			ps = append(ps, tools.ProtectedPath{Path: p, What: what})
		}
	}
	add(c.SecretFile, "the shared-secret file (--shared-secret-file)")
	add(c.Approvals.WebhookSecretFile, "the approval webhook's secret file (--approval-webhook-secret-file)")
	add(c.JWKSFile, "the JWKS file (--jwks-file)")
	add(c.ConfigFile, "the config file (--config)")
	add(c.TSAuthKeyFile, "the Tailscale auth key file (--ts-authkey-file)")
	// The Docker client's TLS key, when the Docker tools use one.
	if dir := c.env.dockerCertPath; dir != "" {
		add(filepath.Join(dir, "key.pem"), "the Docker client's TLS key (DOCKER_CERT_PATH)")
	}
	return ps
}

// checkFileRoots checks the file roots before anything is opened: each
// must be an absolute path, and, when a file tool is enabled, none may
// contain, equal or lie inside a path the server keeps its own secrets or
// state in (serverPaths). The error names where the roots came from.
func (c *config) checkFileRoots(deps *tools.Deps, enabled []tools.Spec) error {
	err := deps.CheckRoots()
	if err == nil && slices.ContainsFunc(enabled, func(s tools.Spec) bool { return s.Needs.FileRoots }) {
		err = deps.CheckProtected()
	}
	switch {
	case err == nil:
		return nil
	case c.set["file-root"]:
		return fmt.Errorf("--file-root %w", err)
	case len(c.file.FileRoots) > 0:
		return fmt.Errorf("config file %s: key \"file_roots\": %w", c.ConfigFile, err)
	}
	return fmt.Errorf("the default --file-root %w", err)
}
