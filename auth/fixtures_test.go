// SPDX-License-Identifier: Apache-2.0

package auth_test

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/tailops/tailops/auth"
)

var (
	testSecret = []byte("test-secret-0123456789abcdef")
	testNow    = time.Date(2025, 11, 15, 12, 0, 0, 0, time.UTC)
)

// testKeys are the signing keys shared by all tests, generated once.
type testKeys struct {
	ed  ed25519.PrivateKey
	ec  *ecdsa.PrivateKey
	rsa *rsa.PrivateKey
}

var keys = sync.OnceValue(func() testKeys {
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		panic(err)
	}
	ec, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	rk, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	return testKeys{ed: ed, ec: ec, rsa: rk}
})

// writeKeySet writes a JWKS file holding ks and returns its path.
func writeKeySet(t testing.TB, ks ...jose.JSONWebKey) string {
	t.Helper()
	data, err := json.Marshal(jose.JSONWebKeySet{Keys: ks})
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "jwks.json")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// standardJWKS loads a key set with the public halves of keys(), named
// "ed", "ec" and "rsa".
func standardJWKS(t testing.TB) *auth.JWKS {
	t.Helper()
	k := keys()
	set, err := auth.LoadJWKS(writeKeySet(t,
		jose.JSONWebKey{Key: k.ed.Public(), KeyID: "ed", Use: "sig"},
		jose.JSONWebKey{Key: k.ec.Public(), KeyID: "ec", Use: "sig"},
		jose.JSONWebKey{Key: k.rsa.Public(), KeyID: "rsa", Use: "sig"},
	))
	if err != nil {
		t.Fatalf("LoadJWKS: %v", err)
	}
	return set
}

// newVerifier returns a verifier with the test secret, the standard key
// set and a clock fixed at testNow, adjusted by edit when not nil.
func newVerifier(t testing.TB, edit func(*auth.Config)) *auth.Verifier {
	t.Helper()
	cfg := auth.Config{
		Secret: testSecret,
		JWKS:   standardJWKS(t),
		Now:    func() time.Time { return testNow },
	}
	if edit != nil {
		edit(&cfg)
	}
	v, err := auth.NewVerifier(cfg)
	if err != nil {
		t.Fatalf("NewVerifier: %v", err)
	}
	return v
}

// jwtClaims returns valid JWT claims for testNow, with edits applied
// (a nil value deletes the claim).
func jwtClaims(edits jwt.MapClaims) jwt.MapClaims {
	c := jwt.MapClaims{
		"sub":   "ci-bot",
		"jti":   "jwt-1",
		"iat":   testNow.Unix(),
		"exp":   testNow.Add(time.Hour).Unix(),
		"scope": "container:read file:read",
	}
	for k, v := range edits {
		if v == nil {
			delete(c, k)
		} else {
			c[k] = v
		}
	}
	return c
}

// signJWT signs claims with method and key, naming kid in the header
// when it is not empty.
func signJWT(t testing.TB, method jwt.SigningMethod, key any, kid string, claims jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, claims)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	if err != nil {
		t.Fatalf("signing %s: %v", method.Alg(), err)
	}
	return s
}

// pyToken builds an HMAC token exactly as the original TailOpsMCP's
// mint_token.py did, from hand-written compact JSON.
func pyToken(secret []byte, claimsJSON string) string {
	body := base64.URLEncoding.EncodeToString([]byte(claimsJSON))
	body = strings.TrimRight(body, "=")
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(body))
	return body + "." + hex.EncodeToString(mac.Sum(nil))
}

// mint mints an HMAC token with the test secret, failing the test on error.
func mint(t testing.TB, c auth.Claims) string {
	t.Helper()
	tok, err := auth.MintHMAC(testSecret, c)
	if err != nil {
		t.Fatalf("MintHMAC: %v", err)
	}
	return tok
}

// assertNoLeak fails when err's text holds the token, any of its
// dot-separated parts (the signature among them) or a secret.
func assertNoLeak(t testing.TB, err error, raw string, secrets ...[]byte) {
	t.Helper()
	if err == nil {
		return
	}
	msg := err.Error()
	check := func(what, s string) {
		if len(s) >= 8 && strings.Contains(msg, s) {
			t.Errorf("error text contains the %s: %q", what, msg)
		}
	}
	check("token", raw)
	for i, part := range strings.Split(raw, ".") {
		check(fmt.Sprintf("token part %d", i), part)
	}
	for _, s := range secrets {
		check("secret", string(s))
	}
}
