// SPDX-License-Identifier: Apache-2.0

//go:build !tailops_nocheck

package files

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/toolstest"
)

// testPEM returns a self-signed certificate and its private key, PEM
// encoded.
func testPEM(t *testing.T) (cert, key string) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test"},
		NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour)}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
	if err != nil {
		t.Fatal(err)
	}
	pk, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pk}))
}

// TestFileDenyDefaults puts a file named after each built-in deny
// pattern in a root, plus near-misses, and reads them through the real
// tools: every default is denied by read_file, tail_file, get_file_info
// and search_files (and marked in a listing), its backup copies too, and
// every near-miss stays readable. Key-files (*.pem) are denied when they
// hold a private key and readable when they hold only certificates. The
// table must cover every default: a pattern added to the list without a
// case here fails the test.
func TestFileDenyDefaults(t *testing.T) {
	t.Parallel()
	cert, key := testPEM(t)
	type sample struct{ path, content string }
	cases := []struct {
		pattern string
		denied  []string
		allowed []string
	}{
		{"id_*", []string{"id_rsa", "id_dsa", "id_ecdsa", "id_ed25519", "keys/id_ecdsa_sk", "backup/id_ed25519_sk", "ID_RSA"},
			[]string{"id_rsa.pub", "keys/id_ed25519-cert.pub", "ids.log", "id.log", "rapid_start.log"}},
		{"ssh_host_*_key", []string{"etc/ssh/ssh_host_rsa_key", "etc/ssh/ssh_host_ed25519_key", "ssh_host_ecdsa_key"},
			[]string{"etc/ssh/ssh_host_rsa_key.pub", "etc/ssh/sshd_config"}},
		{".ssh", []string{"home/.ssh/authorized_keys", "home/.ssh/known_hosts", "home/.ssh/config"},
			[]string{"sshd/known.log", ".sshd/x.log"}},
		{"*.key", []string{"tls/server.key", "tls/SERVER.KEY"}, []string{"keys.log", "monkey.txt", "key.txt"}},
		{"*.p12", []string{"store.p12"}, []string{"store.p12.txt"}},
		{"*.pfx", []string{"store.pfx"}, nil},
		{"*.kdbx", []string{"vault/passwords.kdbx"}, []string{"kdbx.log"}},
		{"shadow", []string{"etc/shadow"}, []string{"etc/shadowsocks.log", "etc/passwd"}},
		{"shadow-", []string{"etc/shadow-"}, nil},
		{"gshadow", []string{"etc/gshadow"}, []string{"etc/group"}},
		{"gshadow-", []string{"etc/gshadow-"}, nil},
		{"opasswd", []string{"etc/security/opasswd"}, []string{"etc/security/limits.conf", "opasswd.log"}},
		{"ssl/private", []string{"etc/ssl/private/ssl-cert-snakeoil.key", "etc/ssl/private/site.crt"}, []string{"etc/ssl/certs/site.crt", "private/notes.txt"}},
		{"pki/*/private", []string{"etc/pki/tls/private/localhost.key", "etc/pki/CA/private/cakey.pem", "etc/pki/libvirt/private/serverkey.txt"},
			[]string{"etc/pki/tls/certs/ca-bundle.crt", "etc/pki/private/notes.txt"}},
		{"pki/nssdb/key*.db", []string{"etc/pki/nssdb/key4.db", "etc/pki/nssdb/key3.db"}, []string{"etc/pki/nssdb/cert9.db", "etc/pki/nssdb/pkcs11.txt"}},
		{".aws/credentials", []string{"home/.aws/credentials"}, []string{"home/.aws/config", "aws/credentials.log"}},
		{".config/gcloud", []string{"home/.config/gcloud/application_default_credentials.json", "home/.config/gcloud/credentials.db"},
			[]string{"home/.config/other/settings.json", "gcloud/x.log"}},
		{".azure", []string{"home/.azure/msal_token_cache.json", "home/.azure/accessTokens.json"}, []string{"azure/deploy.log"}},
		{".pgpass", []string{"home/.pgpass"}, []string{"pgpass.log"}},
		{".my.cnf", []string{"home/.my.cnf"}, []string{"etc/mysql/my.cnf"}},
		{".netrc", []string{"home/.netrc"}, []string{"netrc.txt"}},
		{".git-credentials", []string{"home/.git-credentials"}, []string{"home/.gitconfig"}},
		{".vault-token", []string{"home/.vault-token"}, []string{"vault-token.log"}},
		{"kubeconfig", []string{"kubeconfig"}, []string{"kube.log"}},
		{".kube/config", []string{"home/.kube/config"}, []string{"kube/config", "home/.kube/cache/x"}},
		{".docker/config.json", []string{"home/.docker/config.json"}, []string{"docker/config.json", "config.json"}},
		{".env*", []string{".env", "app/.env", "app/.env.production", "app/.envrc"}, []string{"env.example", "app.env", "environment.log"}},
		{"wg*.conf", []string{"wg0.conf", "vpn/wg-home.conf"}, []string{"wg0.log", "conf/wg.txt"}},
		{"wireguard", []string{"etc/wireguard/privatekey", "etc/wireguard/publickey"}, []string{"wire.log"}},
		{"tailscaled.state", []string{"var/lib/tailscale/tailscaled.state"}, []string{"var/log/tailscaled.log"}},
	}
	backups := map[string][]string{ // suffix: denied copies, allowed copies
		".bak": {"tls/server.key.bak", "etc/shadow.bak"},
		".old": {"tailscaled.state.old", "home/.netrc.old"},
		"~":    {"id_rsa~", "app/.env~"},
	}
	backupAllowed := []string{"id_rsa.pub.bak", "notes.bak", "app.log.old", "readme~"}

	var denied, allowed []sample
	covered := map[string]bool{}
	for _, c := range cases {
		covered[c.pattern] = true
		for _, p := range c.denied {
			denied = append(denied, sample{p, "secret " + p + "\n"})
		}
		for _, p := range c.allowed {
			allowed = append(allowed, sample{p, "content of " + p + "\n"})
		}
	}
	for _, suf := range BackupSuffixes() {
		if len(backups[suf]) == 0 {
			t.Errorf("no case for the backup suffix %q", suf)
		}
		for _, p := range backups[suf] {
			denied = append(denied, sample{p, "secret " + p + "\n"})
		}
	}
	for _, p := range backupAllowed {
		allowed = append(allowed, sample{p, "content of " + p + "\n"})
	}
	for _, p := range DefaultFileDeny() {
		if !covered[p] {
			t.Errorf("the default deny pattern %q has no case in this test", p)
		}
	}
	// Key-files are told apart by content.
	keyDenied := []sample{
		{"tls/key.pem", key}, {"tls/combined.pem", cert + key}, {"tls/KEY.PEM", key},
		{"tls/key.pem.bak", key}, {"tls/old.pem~", key},
		{"tls/rsa.pem", "-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----\n"},
		{"tls/ssh.pem", "-----BEGIN OPENSSH PRIVATE KEY-----\nb3Bl\n-----END OPENSSH PRIVATE KEY-----\n"},
		{"tls/big.pem", strings.Repeat(cert, keyFileMaxCheck/len(cert)+1)},
	}
	keyAllowed := []sample{{"tls/cert.pem", cert}, {"tls/chain.pem", cert + cert}, {"tls/cert.pem.old", cert}}
	if !slices.Equal(KeyFileNames(), []string{"*.pem"}) {
		t.Errorf("key-file names %v: extend the cases here", KeyFileNames())
	}
	denied = append(denied, keyDenied...)
	allowed = append(allowed, keyAllowed...)

	root := t.TempDir()
	for _, s := range append(slices.Clone(denied), allowed...) {
		toolstest.WriteFile(t, filepath.Join(root, s.path), s.content)
	}
	// A symlink with an innocent name is judged by what it resolves to.
	ftSymlink(t, "tls/key.pem", filepath.Join(root, "innocent.log"))
	ftSymlink(t, "home/.aws/credentials", filepath.Join(root, "aws.log"))
	denied = append(denied, sample{"innocent.log", key}, sample{"aws.log", ""})
	k := serveFiles(t, []string{root})

	isKey := func(p string) bool {
		return slices.ContainsFunc(keyDenied, func(s sample) bool { return s.path == p }) || p == "innocent.log"
	}
	for _, s := range denied {
		for _, tool := range []string{"read_file", "tail_file", "get_file_info"} {
			res := toolstest.Call(t, k, tool, map[string]any{"path": s.path})
			text := ftText(res)
			if tool == "get_file_info" && (isKey(s.path) || s.path == "aws.log") {
				// A key-file is described, never sniffed; a symlink is
				// described itself.
				if res.IsError {
					t.Errorf("%s %s: %s", tool, s.path, text)
				} else if info := toolstest.Decode[fileInfoResult](t, k, tool, res); info.IsText != nil {
					t.Errorf("%s %s: %s", tool, s.path, text)
				}
				continue
			}
			if !res.IsError || !strings.Contains(text, "denied by policy") {
				t.Errorf("%s %s: not denied: %s", tool, s.path, text)
			}
			if strings.Contains(text, "secret ") || strings.Contains(text, "PRIVATE") {
				t.Errorf("%s %s: the error shows contents: %s", tool, s.path, text)
			}
		}
	}
	for _, s := range allowed {
		if r := readOK(t, k, map[string]any{"path": s.path}); r.Content != s.content {
			t.Errorf("read_file %s: %q", s.path, r.Content)
		}
		if r := tailOK(t, k, map[string]any{"path": s.path, "lines": 1}); r.Content == "" {
			t.Errorf("tail_file %s: empty", s.path)
		}
	}

	// A search finds every allowed file and no denied one.
	r := toolstest.OK[searchFilesResult](t, k, "search_files", map[string]any{"path": ".", "content_regex": "secret|content of|BEGIN", "max_results": 1000})
	found := map[string]bool{}
	for _, m := range r.Matches {
		found[m.Path] = true
	}
	for _, s := range denied {
		if found[s.path] {
			t.Errorf("search_files returned denied %s", s.path)
		}
	}
	for _, s := range allowed {
		if !found[s.path] {
			t.Errorf("search_files missed allowed %s", s.path)
		}
	}
	// A listing marks name-denied entries (key-files are judged when read).
	l := toolstest.OK[listDirectoryResult](t, k, "list_directory", map[string]any{"path": "."})
	for _, e := range l.Entries {
		want := slices.ContainsFunc(denied, func(s sample) bool { return s.path == e.Name && !isKey(s.path) && s.path != "aws.log" })
		if e.Denied != want {
			t.Errorf("list_directory: entry %s marked denied %v, want %v", e.Name, e.Denied, want)
		}
	}
}

// TestFileDenyCoversNeverExposed: every file the kernel sandbox must
// never let the server read (sandbox.NeverExposed) is also refused by the
// file tools' deny-list under a root above it: the deny-list is all that
// stands between a token and such a file when a root reaches it.
func TestFileDenyCoversNeverExposed(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	var paths []string
	for _, glob := range sandbox.NeverExposed() {
		p := strings.ReplaceAll(strings.TrimPrefix(glob, "/"), "*", "x")
		toolstest.WriteFile(t, filepath.Join(root, p), "secret\n")
		paths = append(paths, p)
	}
	k := serveFiles(t, []string{root})
	for _, p := range paths {
		if msg := toolstest.Err(t, k, "read_file", map[string]any{"path": filepath.Join(root, p)}); !strings.Contains(msg, "denied by policy") {
			t.Errorf("read_file /%s (never exposed): %q, want it denied", p, msg)
		}
	}
}
