// SPDX-License-Identifier: Apache-2.0

package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestServeWarnsAboutRootsThatExposeHostSecrets: a root of /etc puts
// /etc/shadow inside what Landlock grants, which it cannot carve out, so
// `serve` (the real binary, sandbox enforced) starts but says so: a
// warning in the log naming each such root, and on /readyz, which
// answers anyone, how many roots and what to do, without naming them.
// The deny-list still refuses the file, and the rest of /etc reads under
// the sandbox. sandbox check fails on the same configuration. A root of
// /var/log gives no such warning.
func TestServeWarnsAboutRootsThatExposeHostSecrets(t *testing.T) {
	if _, err := os.Stat("/etc/shadow"); err != nil {
		t.Fatalf("this test needs /etc/shadow: %v", err)
	}
	dir := t.TempDir()
	link := filepath.Join(dir, "host-etc")
	if err := os.Symlink("/etc", link); err != nil {
		t.Fatal(err)
	}
	p := runBinary(t, binPath, "--file-root", "/etc", "--file-root", link)
	log := p.Stderr.String()
	for _, root := range []string{"/etc", link} {
		if !strings.Contains(log, "file root reaches files the kernel sandbox must never expose") ||
			!strings.Contains(log, "root="+root+" files=") || !strings.Contains(log, "/etc/shadow") {
			t.Errorf("no warning in the log for the root %s:\n%s", root, log)
		}
	}
	body, err := httpGetBody(p.URL + "/readyz")
	if err != nil || !strings.Contains(body, "WARNING: 2 file root(s) reach files the kernel sandbox must never expose (/etc/shadow") ||
		!strings.Contains(body, "use narrower file roots") || strings.Contains(body, dir) {
		t.Errorf("/readyz: %q, %v", body, err)
	}
	cs := sdkSession(t, p.URL, p.token(t, "file:read"))
	for _, path := range []string{"/etc/shadow", filepath.Join(link, "shadow"), "/etc/gshadow"} {
		if text, isErr := callText(t, cs, "read_file", map[string]any{"path": path}); !isErr || !strings.Contains(text, "denied by policy") {
			t.Errorf("read_file %s: %s", path, text)
		}
	}
	if text, isErr := callText(t, cs, "read_file", map[string]any{"path": "/etc/passwd"}); isErr || !strings.Contains(text, "root:") {
		t.Errorf("read_file /etc/passwd under the sandbox: %s", text)
	}

	out, _, code := tailops(t, nil, "sandbox", "check", "--state-dir", t.TempDir(), "--listen", "127.0.0.1:18081", "--file-root", "/etc")
	if code == 0 || !strings.Contains(out, "read /etc/shadow") || !strings.Contains(out, "FAILED") {
		t.Errorf("sandbox check with a root of /etc: exit %d\n%s", code, out)
	}

	q := runBinary(t, binPath, "--file-root", "/var/log")
	if strings.Contains(q.Stderr.String(), "must never expose") {
		t.Errorf("a root of /var/log warned:\n%s", q.Stderr)
	}
	if body, err := httpGetBody(q.URL + "/readyz"); err != nil || strings.Contains(body, "must never expose") {
		t.Errorf("/readyz with a root of /var/log: %q, %v", body, err)
	}
}
