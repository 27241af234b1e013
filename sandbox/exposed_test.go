// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestExposed: a root reaches the files the sandbox must never expose
// that lie beneath it, spelled directly or through a symlink, and with
// HOST_ETC the host's copies under it; the public half of a key is left
// out, and a root beside them reaches none. Compute records the same
// files for Check.
func TestExposed(t *testing.T) {
	if _, err := os.Stat("/etc/shadow"); err != nil {
		t.Fatalf("this test needs /etc/shadow: %v", err)
	}
	dir := t.TempDir()
	hostEtc := filepath.Join(dir, "host", "etc")
	for _, f := range []string{"shadow", "ssh/ssh_host_ed25519_key", "ssh/ssh_host_ed25519_key.pub", "wireguard/wg0.conf", "wireguard/key.pub", "hostname"} {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(hostEtc, f)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(hostEtc, f), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	link := filepath.Join(dir, "etclink")
	if err := os.Symlink("/etc", link); err != nil {
		t.Fatal(err)
	}
	logs := filepath.Join(dir, "logs")
	if err := os.Mkdir(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	got := map[string]Exposure{}
	for _, x := range Exposed([]string{"/etc", link, "/var/log", logs, filepath.Join(dir, "host"), filepath.Join(dir, "missing")}, hostEtc) {
		got[x.Root] = x
	}
	for _, root := range []string{"/etc", link} {
		if x := got[root]; !slices.Contains(x.Files, "/etc/shadow") || !slices.Contains(x.Entries, "/etc/shadow") {
			t.Errorf("root %s: %+v", root, x)
		}
	}
	host := got[filepath.Join(dir, "host")]
	want := []string{filepath.Join(hostEtc, "shadow"), filepath.Join(hostEtc, "ssh/ssh_host_ed25519_key"), filepath.Join(hostEtc, "wireguard/wg0.conf")}
	if !slices.Equal(host.Files, want) || !slices.Equal(host.Entries, []string{"/etc/shadow", "/etc/ssh/ssh_host_*_key", "/etc/wireguard/*"}) {
		t.Errorf("HOST_ETC root: %+v, want files %v", host, want)
	}
	for _, root := range []string{"/var/log", logs, filepath.Join(dir, "missing")} {
		if x, ok := got[root]; ok {
			t.Errorf("root %s exposes %v", root, x.Files)
		}
	}
	for _, x := range got {
		for _, f := range x.Files {
			if strings.HasSuffix(f, ".pub") {
				t.Errorf("a public key counted: %s", f)
			}
		}
	}
	p, err := Compute([]Grant{}, Config{StateDir: t.TempDir(), HostEtc: hostEtc})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(p.NeverExposed, "/etc/shadow") || !slices.Contains(p.NeverExposed, filepath.Join(hostEtc, "shadow")) {
		t.Errorf("Compute: NeverExposed %v", p.NeverExposed)
	}
}
