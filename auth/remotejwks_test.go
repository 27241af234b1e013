// SPDX-License-Identifier: Apache-2.0

package auth_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/tailops/tailops/auth"
)

// jwksServer is an identity provider's key set endpoint on loopback: it
// serves what handler says (by default body with 200) and counts
// requests.
type jwksServer struct {
	*httptest.Server
	hits    atomic.Int32
	mu      sync.Mutex
	body    []byte
	handler http.HandlerFunc // nil: serve body
}

func newJWKSServer(t *testing.T, ks ...jose.JSONWebKey) *jwksServer {
	t.Helper()
	s := &jwksServer{}
	s.set(t, ks...)
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		body, h := s.body, s.handler
		s.mu.Unlock()
		if h != nil {
			h(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}))
	t.Cleanup(s.Close)
	return s
}

// set makes the server serve a key set of ks.
func (s *jwksServer) set(t *testing.T, ks ...jose.JSONWebKey) {
	t.Helper()
	b, err := json.Marshal(jose.JSONWebKeySet{Keys: ks})
	if err != nil {
		t.Fatal(err)
	}
	s.mu.Lock()
	s.body, s.handler = b, nil
	s.mu.Unlock()
}

// serve makes the server answer with h.
func (s *jwksServer) serve(h http.HandlerFunc) {
	s.mu.Lock()
	s.handler = h
	s.mu.Unlock()
}

// fetches records what Observe saw.
type fetches struct {
	mu  sync.Mutex
	all []auth.Fetch
}

func (f *fetches) observe(x auth.Fetch) {
	f.mu.Lock()
	f.all = append(f.all, x)
	f.mu.Unlock()
}

func (f *fetches) last() auth.Fetch {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.all) == 0 {
		return auth.Fetch{}
	}
	return f.all[len(f.all)-1]
}

// remoteFixture is a key set server, a RemoteJWKS fetching it on a fake
// clock, and a verifier using it (JWTs only: no secret).
type remoteFixture struct {
	srv     *jwksServer
	remote  *auth.RemoteJWKS
	v       *auth.Verifier
	elapsed atomic.Int64 // the fake clock: testNow plus this many nanoseconds
	seen    *fetches
}

func newRemoteFixture(t *testing.T, edit func(*auth.RemoteJWKSConfig), ks ...jose.JSONWebKey) *remoteFixture {
	t.Helper()
	f := &remoteFixture{srv: newJWKSServer(t, ks...), seen: &fetches{}}
	cfg := auth.RemoteJWKSConfig{URL: f.srv.URL + "/.well-known/jwks.json", Now: f.now, Observe: f.seen.observe}
	if edit != nil {
		edit(&cfg)
	}
	var err error
	if f.remote, err = auth.NewRemoteJWKS(cfg); err != nil {
		t.Fatal(err)
	}
	if f.v, err = auth.NewVerifier(auth.Config{RemoteJWKS: f.remote, Now: f.now}); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *remoteFixture) now() time.Time { return testNow.Add(time.Duration(f.elapsed.Load())) }

// ecKey is a fresh P-256 key.
func ecKey(t *testing.T) *ecdsa.PrivateKey {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestCheckJWKSURL(t *testing.T) {
	for _, tc := range []struct {
		url  string
		want string // "" accepted, else in the error
	}{
		{"https://idp.example.ts.net/.well-known/jwks.json", ""},
		{"https://idp.example.com:8443/keys", ""},
		{"http://127.0.0.1:8080/jwks", ""},
		{"http://127.9.9.9/jwks", ""},
		{"http://[::1]:9000/jwks", ""},
		{"http://localhost:9000/jwks", ""},
		{"http://idp.example.ts.net/.well-known/jwks.json", "want https (http only to a loopback host)"},
		{"http://10.0.0.1/jwks", "want https"},
		{"http://[::ffff:10.0.0.1]/jwks", "want https"},
		{"http://localhost.example.com/jwks", "want https"},
		{"ftp://idp.example.com/jwks", "want an https URL"},
		{"file:///etc/jwks.json", "no host"},
		{"/etc/jwks.json", "no host"},
		{"https:///jwks", "no host"},
		{"https://:443/jwks", "no host"},
		{"https://idp.example.com/jwks#frag", "fragment"},
		{"https://idp.example.com:70000/jwks", `bad port "70000"`},
		{"https://idp.example.com:0/jwks", `bad port "0"`},
		{"https://user:hunter22@idp.example.com/jwks#x", "xxxxx"},
		{"https://idp.example.com/%zz", "not a URL"},
	} {
		t.Run(tc.url, func(t *testing.T) {
			_, err := auth.CheckJWKSURL(tc.url)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("error %v; want one containing %q", err, tc.want)
			case err != nil && strings.Contains(err.Error(), "hunter22"):
				t.Fatalf("error %q shows the URL's password", err)
			}
		})
	}
}

// TestRemoteJWKSVerifies: the fetched set verifies the tokens its keys
// signed, each key only its own algorithm, and Observe sees the fetch.
func TestRemoteJWKSVerifies(t *testing.T) {
	k := keys()
	f := newRemoteFixture(t, nil,
		jose.JSONWebKey{Key: k.ec.Public(), KeyID: "ec", Use: "sig"},
		jose.JSONWebKey{Key: k.ed.Public(), KeyID: "ed"})

	if f.remote.Keys() != nil || f.srv.hits.Load() != 0 {
		t.Fatal("a key set before the first fetch")
	}
	if err := f.remote.Fetch(context.Background(), auth.TriggerStart); err != nil {
		t.Fatal(err)
	}
	if got := f.seen.last(); got.Err != nil || got.Keys != 2 || got.Trigger != auth.TriggerStart ||
		!slices.Equal(got.Added, []string{"ec", "ed"}) || got.Removed != nil || !got.Changed() {
		t.Errorf("Observe saw %+v; want 2 keys, ec and ed added", got)
	}
	for _, tc := range []struct {
		name string
		tok  string
		want error
	}{
		{"ES256 by ec", signJWT(t, jwt.SigningMethodES256, k.ec, "ec", jwtClaims(nil)), nil},
		{"EdDSA by ed", signJWT(t, jwt.SigningMethodEdDSA, k.ed, "ed", jwtClaims(nil)), nil},
		{"RS256 by a key not in the set, named ec", signJWT(t, jwt.SigningMethodRS256, k.rsa, "ec", jwtClaims(nil)), auth.ErrAlgorithm},
		{"ES256 by another key, named ec", signJWT(t, jwt.SigningMethodES256, ecKey(t), "ec", jwtClaims(nil)), auth.ErrBadSignature},
		{"HS256 naming ec", signJWT(t, jwt.SigningMethodHS256, testSecret, "ec", jwtClaims(nil)), auth.ErrAlgorithm},
		{"no kid, several keys", signJWT(t, jwt.SigningMethodES256, k.ec, "", jwtClaims(nil)), auth.ErrUnknownKey},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := f.v.Verify(tc.tok)
			if !errors.Is(err, tc.want) || (err == nil && c.Agent != "ci-bot") {
				t.Fatalf("Verify: %+v, %v; want %v", c, err, tc.want)
			}
			assertNoLeak(t, err, tc.tok)
		})
	}
}

// TestRemoteJWKSUnknownKid: a token naming a kid the set lacks fetches
// it again, unless the last fetch began less than MinInterval ago; a
// flood of such tokens, at once, fetches once.
func TestRemoteJWKSUnknownKid(t *testing.T) {
	k := keys()
	old := jose.JSONWebKey{Key: k.ec.Public(), KeyID: "old"}
	f := newRemoteFixture(t, nil, old)
	if err := f.remote.Fetch(context.Background(), auth.TriggerStart); err != nil {
		t.Fatal(err)
	}
	// The provider rotates: a new key beside the old one.
	f.srv.set(t, old, jose.JSONWebKey{Key: k.rsa.Public(), KeyID: "new"})
	newTok := signJWT(t, jwt.SigningMethodRS256, k.rsa, "new", jwtClaims(nil))

	f.elapsed.Add(int64(30 * time.Second))
	if _, err := f.v.Verify(newTok); !errors.Is(err, auth.ErrUnknownKey) {
		t.Fatalf("30s after the last fetch: %v; want %v (no fetch yet)", err, auth.ErrUnknownKey)
	}
	if n := f.srv.hits.Load(); n != 1 {
		t.Fatalf("%d fetches 30s after the first; want 1", n)
	}

	f.elapsed.Add(int64(31 * time.Second))
	if c, err := f.v.Verify(newTok); err != nil || c.Agent != "ci-bot" {
		t.Fatalf("61s after the last fetch: %v, %v; want the new key fetched and the token accepted", c, err)
	}
	if got := f.seen.last(); f.srv.hits.Load() != 2 || got.Trigger != auth.TriggerUnknownKid || !slices.Equal(got.Added, []string{"new"}) {
		t.Fatalf("%d fetches, last %+v; want 2, for the unknown kid, adding new", f.srv.hits.Load(), got)
	}

	// Tokens naming kids nobody has, right after: no fetch.
	bogus := signJWT(t, jwt.SigningMethodES256, ecKey(t), "bogus", jwtClaims(nil))
	for range 10 {
		if _, err := f.v.Verify(bogus); !errors.Is(err, auth.ErrUnknownKey) {
			t.Fatalf("bogus kid: %v", err)
		}
	}
	if n := f.srv.hits.Load(); n != 2 {
		t.Fatalf("bogus kids within a minute fetched: %d fetches; want 2", n)
	}

	// A minute later, 50 at once: one fetch, every caller refused.
	f.elapsed.Add(int64(time.Minute))
	var wg sync.WaitGroup
	for range 50 {
		wg.Go(func() {
			if _, err := f.v.Verify(bogus); !errors.Is(err, auth.ErrUnknownKey) {
				t.Errorf("bogus kid: %v", err)
			}
		})
	}
	wg.Wait()
	if n := f.srv.hits.Load(); n != 3 {
		t.Fatalf("50 concurrent bogus kids: %d fetches in all; want 3", n)
	}
}

// TestRemoteJWKSFailureKeepsLastGoodSet: every way a fetch can fail keeps
// the set in use, and says why, naming the URL (its password redacted)
// and never a token.
func TestRemoteJWKSFailureKeepsLastGoodSet(t *testing.T) {
	k := keys()
	big := strings.Repeat(" ", 5000)
	for _, tc := range []struct {
		name  string
		serve http.HandlerFunc
		set   []jose.JSONWebKey
		want  string
		again bool // worth trying again: ErrKeySetUnreachable
	}{
		{"HTTP error", func(w http.ResponseWriter, _ *http.Request) { http.Error(w, "down", http.StatusServiceUnavailable) }, nil, "HTTP status 503", true},
		{"not found", func(w http.ResponseWriter, r *http.Request) { http.NotFound(w, r) }, nil, "HTTP status 404", false},
		{"not JSON", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("<html>login</html>")) }, nil, "parsing", false},
		{"no keys", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte(`{"keys": []}`)) }, nil, "no keys", false},
		{"private key", nil, []jose.JSONWebKey{{Key: k.ec, KeyID: "ec"}}, "private keys are refused", false},
		{"symmetric key", nil, []jose.JSONWebKey{{Key: []byte("0123456789abcdef0123"), KeyID: "hs"}}, "symmetric", false},
		{"too large, Content-Length", func(w http.ResponseWriter, _ *http.Request) {
			w.Header().Set("Content-Length", "5000")
			w.Write([]byte(big))
		}, nil, "the response is 5000 bytes; at most 4096", false},
		{"too large, chunked", func(w http.ResponseWriter, _ *http.Request) {
			for range 5 {
				w.Write([]byte(big[:1000]))
				w.(http.Flusher).Flush()
			}
		}, nil, "larger than 4096 bytes", false},
		{"too slow", func(w http.ResponseWriter, r *http.Request) {
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, nil, "key set unreachable: timed out after 300ms", true},
		{"body too slow", func(w http.ResponseWriter, r *http.Request) {
			w.Write([]byte(`{"keys": [`))
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
			case <-time.After(5 * time.Second):
			}
		}, nil, "key set unreachable: reading the response: timed out after 300ms", true},
		{"redirect", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "http://127.0.0.1:1/evil-jwks", http.StatusFound)
		}, nil, "redirects are not followed", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newRemoteFixture(t, func(c *auth.RemoteJWKSConfig) {
				c.MaxBytes, c.Timeout = 4096, 300*time.Millisecond
				c.URL = strings.Replace(c.URL, "http://", "http://user:hunter22@", 1)
			}, jose.JSONWebKey{Key: k.ed.Public(), KeyID: "ed"})
			if err := f.remote.Fetch(context.Background(), auth.TriggerStart); err != nil {
				t.Fatal(err)
			}
			good := signJWT(t, jwt.SigningMethodEdDSA, k.ed, "ed", jwtClaims(nil))
			if tc.set != nil {
				f.srv.set(t, tc.set...)
			} else {
				f.srv.serve(tc.serve)
			}

			err := f.remote.Fetch(context.Background(), auth.TriggerRefresh)
			redacted := strings.Replace(f.srv.URL, "http://", "http://user:xxxxx@", 1) + "/.well-known/jwks.json"
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "fetching key set "+redacted+": ") {
				t.Fatalf("Fetch: %v; want an error naming %s and saying %q", err, redacted, tc.want)
			}
			if errors.Is(err, auth.ErrKeySetUnreachable) != tc.again {
				t.Errorf("errors.Is(%v, ErrKeySetUnreachable) = %v, want %v", err, !tc.again, tc.again)
			}
			if strings.Contains(err.Error(), "hunter22") {
				t.Errorf("error %q shows the URL's password", err)
			}
			if got := f.seen.last(); got.Err == nil || got.Keys != 1 || got.Changed() {
				t.Errorf("Observe saw %+v; want the error, 1 key in use, nothing changed", got)
			}
			if c, err := f.v.Verify(good); err != nil || c.Agent != "ci-bot" {
				t.Fatalf("after the failed fetch, a token of the last good set: %v, %v", c, err)
			}

			// A token naming an unknown kid, a minute later: the fetch it
			// triggers fails the same way; the error says nothing of the
			// token, and the last good set still verifies.
			f.elapsed.Add(int64(time.Minute))
			bogus := signJWT(t, jwt.SigningMethodES256, ecKey(t), "kid-from-a-token", jwtClaims(nil))
			_, err = f.v.Verify(bogus)
			if !errors.Is(err, auth.ErrUnknownKey) {
				t.Fatalf("unknown kid: %v", err)
			}
			assertNoLeak(t, err, bogus)
			got := f.seen.last()
			if got.Trigger != auth.TriggerUnknownKid || got.Err == nil {
				t.Fatalf("Observe saw %+v; want the failed fetch for the unknown kid", got)
			}
			assertNoLeak(t, got.Err, bogus)
			if strings.Contains(got.Err.Error(), "kid-from-a-token") {
				t.Errorf("fetch error %q quotes the token's kid", got.Err)
			}
			if _, err := f.v.Verify(good); err != nil {
				t.Fatalf("after the failed fetch for an unknown kid: %v", err)
			}
		})
	}
}

// TestRemoteJWKSRun: the periodic fetch puts a changed set in use: a key
// the provider dropped verifies nothing any more, one it replaced under
// the same kid shows as removed and added.
func TestRemoteJWKSRun(t *testing.T) {
	k := keys()
	f := newRemoteFixture(t, func(c *auth.RemoteJWKSConfig) { c.Refresh = 20 * time.Millisecond },
		jose.JSONWebKey{Key: k.ec.Public(), KeyID: "a"}, jose.JSONWebKey{Key: k.ed.Public(), KeyID: "b"})
	if err := f.remote.Fetch(context.Background(), auth.TriggerStart); err != nil {
		t.Fatal(err)
	}
	tokB := signJWT(t, jwt.SigningMethodEdDSA, k.ed, "b", jwtClaims(nil))
	if _, err := f.v.Verify(tokB); err != nil {
		t.Fatal(err)
	}
	other := ecKey(t)
	f.srv.set(t, jose.JSONWebKey{Key: other.Public(), KeyID: "a"})

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.remote.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for f.remote.Keys().Len() != 1 {
		if time.Now().After(deadline) {
			t.Fatal("Run never fetched the changed set")
		}
		time.Sleep(10 * time.Millisecond)
	}
	var changed auth.Fetch
	f.seen.mu.Lock()
	for _, x := range f.seen.all {
		if x.Trigger == auth.TriggerRefresh && x.Changed() {
			changed = x
		}
	}
	f.seen.mu.Unlock()
	if !slices.Equal(changed.Added, []string{"a"}) || !slices.Equal(changed.Removed, []string{"a", "b"}) || changed.Keys != 1 {
		t.Errorf("the refresh that changed the set: %+v; want a added, a and b removed, 1 key", changed)
	}
	if _, err := f.v.Verify(tokB); !errors.Is(err, auth.ErrUnknownKey) {
		t.Errorf("a token of the dropped key: %v; want %v", err, auth.ErrUnknownKey)
	}
	if _, err := f.v.Verify(signJWT(t, jwt.SigningMethodES256, k.ec, "a", jwtClaims(nil))); !errors.Is(err, auth.ErrBadSignature) {
		t.Errorf("a token of the replaced key: %v; want %v", err, auth.ErrBadSignature)
	}
	if _, err := f.v.Verify(signJWT(t, jwt.SigningMethodES256, other, "a", jwtClaims(nil))); err != nil {
		t.Errorf("a token of the new key: %v", err)
	}
}

func TestRemoteJWKSConfigRefused(t *testing.T) {
	r, err := auth.NewRemoteJWKS(auth.RemoteJWKSConfig{URL: "https://idp.example.com/jwks"})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		new  func() error
		want string
	}{
		{"plain http", func() error {
			_, err := auth.NewRemoteJWKS(auth.RemoteJWKSConfig{URL: "http://idp.example.com/jwks"})
			return err
		}, "want https"},
		{"negative timeout", func() error {
			_, err := auth.NewRemoteJWKS(auth.RemoteJWKSConfig{URL: "https://idp.example.com/jwks", Timeout: -1})
			return err
		}, "negative"},
		{"file and URL", func() error {
			_, err := auth.NewVerifier(auth.Config{JWKS: standardJWKS(t), RemoteJWKS: r})
			return err
		}, "both configured"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.new(); err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v; want one containing %q", err, tc.want)
			}
		})
	}
	// A verifier with only a remote set is fine before its first fetch.
	if _, err := auth.NewVerifier(auth.Config{RemoteJWKS: r}); err != nil {
		t.Fatal(err)
	}
}
