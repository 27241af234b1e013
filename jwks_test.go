// SPDX-License-Identifier: Apache-2.0

package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/tailops/tailops/auth"
)

// keySetServer is an identity provider's key set endpoint on loopback:
// it serves the keys set last, or the status set last, and counts
// requests.
type keySetServer struct {
	*httptest.Server
	hits   atomic.Int32
	mu     sync.Mutex
	body   []byte
	status int
}

func newKeySetServer(t *testing.T) *keySetServer {
	t.Helper()
	s := &keySetServer{}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		body, status := s.body, s.status
		s.mu.Unlock()
		if status != 0 {
			http.Error(w, http.StatusText(status), status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

// serveKeys serves the public halves of keys, by kid.
func (s *keySetServer) serveKeys(t *testing.T, keys map[string]any) {
	t.Helper()
	var set jose.JSONWebKeySet
	for kid, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k, KeyID: kid, Use: "sig"})
	}
	b, err := json.Marshal(set)
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.body, s.status = b, 0
	s.mu.Unlock()
}

// fail makes the server answer with status.
func (s *keySetServer) fail(status int) {
	s.mu.Lock()
	s.status = status
	s.mu.Unlock()
}

// idpToken is an ES256 JWT of key kid, as an identity provider issues
// it: sub, scope system:read, an hour of life.
func idpToken(t *testing.T, key *ecdsa.PrivateKey, kid string) string {
	t.Helper()
	now := time.Now()
	tok := jwt.NewWithClaims(jwt.SigningMethodES256, jwt.MapClaims{"sub": "idp-user", "scope": "system:read",
		"jti": "idp-" + kid, "iat": now.Unix(), "exp": now.Add(time.Hour).Unix()})
	tok.Header["kid"] = kid
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func newECKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestJWKSURLUnderSandbox: the real binary, sandbox enforced, with
// --jwks-url on a loopback identity provider. It fetches the key set at
// start and accepts the provider's tokens; after the sandbox is applied
// a rotated key is refused until a fetch (a token naming it within a
// minute of the last fetch triggers none), SIGHUP fetches through the
// sandbox (which grants the URL's port) and puts the new set in use, and
// a failed fetch keeps it, shows on /readyz without the URL and is
// audited with it.
func TestJWKSURLUnderSandbox(t *testing.T) {
	k1, k2 := newECKey(t), newECKey(t)
	idp := newKeySetServer(t)
	idp.serveKeys(t, map[string]any{"k1": k1.Public()})
	url := idp.URL + "/.well-known/jwks.json"

	p := runBinary(t, binPath, "--jwks-url", url, "--sandbox", "enforce", "--tools", "health_check,get_system_status")
	p.waitLog("sandbox applied")
	logs := p.Stderr.String()
	fetched := strings.Index(logs, `msg="jwks: fetched the key set; its keys changed" url=`+url+` trigger=start keys=1 added="\"k1\""`)
	if fetched < 0 || !strings.Contains(logs[fetched:], "sandbox applied") {
		t.Fatalf("no start fetch before the sandbox:\n%s", logs)
	}
	status := func(tok string) (int, string) {
		return postInit(t, p.URL, http.DefaultTransport, map[string]string{"Authorization": "Bearer " + tok})
	}
	tok1, tok2 := idpToken(t, k1, "k1"), idpToken(t, k2, "k2")
	if code, body := status(tok1); code != http.StatusOK {
		t.Fatalf("a token of the fetched key: %d %s", code, body)
	}

	// The provider rotates to k2. A token of k2 right away: refused, and
	// no fetch (the start's was less than a minute ago).
	idp.serveKeys(t, map[string]any{"k2": k2.Public()})
	if code, body := status(tok2); code != http.StatusUnauthorized || !strings.Contains(body, auth.ErrUnknownKey.Error()) {
		t.Fatalf("a token of the rotated key before a fetch: %d %s; want 401 %q", code, body, auth.ErrUnknownKey)
	}
	if n := idp.hits.Load(); n != 1 {
		t.Fatalf("%d fetches; want 1 (an unknown kid within a minute of the last fetch fetches nothing)", n)
	}

	// SIGHUP: a fetch from inside the sandbox.
	if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !p.waitLog(`trigger=SIGHUP keys=1 added="\"k2\"" removed="\"k1\""`) {
		t.Fatalf("SIGHUP did not fetch the rotated set under the sandbox:\n%s", p.Stderr)
	}
	if code, body := status(tok2); code != http.StatusOK {
		t.Fatalf("a token of the rotated key after SIGHUP: %d %s", code, body)
	}
	if code, body := status(tok1); code != http.StatusUnauthorized || !strings.Contains(body, auth.ErrUnknownKey.Error()) {
		t.Fatalf("a token of the dropped key: %d %s; want 401 %q", code, body, auth.ErrUnknownKey)
	}

	// The provider fails: the set in use stays, /readyz says so.
	idp.fail(http.StatusInternalServerError)
	if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !p.waitLog(`msg="jwks: fetching the key set failed; the keys fetched before stay in use" url=` + url + ` trigger=SIGHUP keys=1`) {
		t.Fatalf("no failed fetch in the log:\n%s", p.Stderr)
	}
	if code, body := status(tok2); code != http.StatusOK {
		t.Fatalf("after a failed fetch, a token of the set in use: %d %s", code, body)
	}
	if r := readyz(t, p.URL); !strings.Contains(r, "the JWT key set could not be fetched from --jwks-url") || strings.Contains(r, idp.URL) {
		t.Errorf("/readyz after a failed fetch: %q; want the warning, without the URL", r)
	}
	idp.serveKeys(t, map[string]any{"k2": k2.Public()})
	if err := p.Cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	if !p.waitLog(`msg="jwks: fetched the key set; unchanged" url=` + url + ` trigger=SIGHUP`) {
		t.Fatalf("no fetch after the provider recovered:\n%s", p.Stderr)
	}
	if r := readyz(t, p.URL); strings.Contains(r, "--jwks-url") {
		t.Errorf("/readyz after the fetch succeeded again: %q; want no warning", r)
	}

	var changed, failed, started bool
	for _, r := range readAuditLog(t, filepath.Join(p.State, "audit", "audit.log")) {
		reason, errText := fmt.Sprint(r["reason"]), fmt.Sprint(r["error"])
		switch {
		case r["event"] == "server_start":
			started = strings.Contains(reason, "JWT keys from "+url+": 1")
		case r["event"] == "jwks_fetch" && r["result"] == "success":
			changed = reason == `SIGHUP: key set `+url+` fetched: 1 keys; added "k2"; removed "k1"`
		case r["event"] == "jwks_fetch" && r["result"] == "error":
			failed = strings.Contains(errText, "fetching key set "+url+": key set unreachable: HTTP status 500") &&
				reason == "SIGHUP: the 1 keys fetched before stay in use"
		}
	}
	if !started || !changed || !failed {
		t.Errorf("audit log: server_start names the key set %v, the change %v, the failure %v; want all\n%s", started, changed, failed,
			mustRead(t, filepath.Join(p.State, "audit", "audit.log")))
	}

	t.Run("token inspect", func(t *testing.T) {
		out, stderr, code := tailops(t, nil, "token", "inspect", "--state-dir", t.TempDir(), "--jwks-url", url, tok2)
		if code != 0 || !strings.Contains(out, `"verifies": true`) || !strings.Contains(out, `"agent": "idp-user"`) {
			t.Errorf("token inspect --jwks-url: exit %d\n%s%s", code, out, stderr)
		}
	})
	t.Run("sandbox explain grants the port", func(t *testing.T) {
		port := idp.URL[strings.LastIndex(idp.URL, ":")+1:]
		out, stderr, code := tailops(t, nil, "sandbox", "explain", "--state-dir", t.TempDir(), "--jwks-url", url, "--tools", "health_check")
		if code != 0 || !strings.Contains(out, port+" (config: connect port)") {
			t.Errorf("sandbox explain --jwks-url: exit %d, no connect rule for port %s\n%s%s", code, port, out, stderr)
		}
	})
}

// TestJWKSURLStartRefused: a --jwks-url that answers with no usable key
// set stops the start at once, naming the URL and why.
func TestJWKSURLStartRefused(t *testing.T) {
	idp := newKeySetServer(t)
	private := newKeySetServer(t)
	private.serveKeys(t, map[string]any{"k": newECKey(t)})
	for _, tc := range []struct {
		name, url, want string
	}{
		{"not found", idp.URL + "/nope", "--jwks-url: fetching key set " + idp.URL + "/nope: HTTP status 404"},
		{"private key", private.URL + "/jwks", "--jwks-url: fetching key set " + private.URL + "/jwks: checking key #0 (kid \"k\"): private keys are refused"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.name == "not found" {
				idp.fail(http.StatusNotFound)
			}
			start := time.Now()
			_, stderr, code := tailops(t, nil, "serve", "--state-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--sandbox", "off", "--jwks-url", tc.url)
			if code == 0 || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, stderr %q; want it to contain %q", code, stderr, tc.want)
			}
			if d := time.Since(start); d > 10*time.Second {
				t.Errorf("refused after %s; an answer that is no key set is not tried again", d)
			}
		})
	}
}

// TestJWKSURLFromConfigFile: the config file's jwks_url is used when the
// flag and its environment twin are unset, and the flag wins over it.
func TestJWKSURLFromConfigFile(t *testing.T) {
	k1, k2 := newECKey(t), newECKey(t)
	fromFile, fromFlag := newKeySetServer(t), newKeySetServer(t)
	fromFile.serveKeys(t, map[string]any{"k1": k1.Public()})
	fromFlag.serveKeys(t, map[string]any{"k2": k2.Public()})
	cfg := filepath.Join(t.TempDir(), "config.hujson")
	if err := os.WriteFile(cfg, []byte(`{"jwks_url": "`+fromFile.URL+`/jwks", // the provider's keys
	}`), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name       string
		args       []string
		ok, refuse string // the token accepted, the token refused
	}{
		{"config file", []string{"--config", cfg}, idpToken(t, k1, "k1"), idpToken(t, k2, "k2")},
		{"flag over config file", []string{"--config", cfg, "--jwks-url", fromFlag.URL + "/jwks"}, idpToken(t, k2, "k2"), idpToken(t, k1, "k1")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t, tc.args...)
			auth := func(tok string) map[string]string { return map[string]string{"Authorization": "Bearer " + tok} }
			if code, body := postInit(t, s.URL, http.DefaultTransport, auth(tc.ok)); code != http.StatusOK {
				t.Errorf("the token of the configured provider: %d %s", code, body)
			}
			if code, _ := postInit(t, s.URL, http.DefaultTransport, auth(tc.refuse)); code != http.StatusUnauthorized {
				t.Errorf("the token of the other provider: %d; want 401", code)
			}
		})
	}
}

// mustRead returns the file's content.
func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
