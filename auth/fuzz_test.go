// SPDX-License-Identifier: Apache-2.0

package auth_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/tailops/tailops/auth"
)

// FuzzVerify gives the verifier arbitrary bearer tokens, seeded with
// valid HMAC tokens (TailOps' and the original's), JWTs signed with each
// key type, and broken forms of them: it never panics, its errors never
// carry the token, a part of it or the secret, and what it accepts
// grants only known scopes to a named agent.
func FuzzVerify(f *testing.F) {
	v := newVerifier(f, func(c *auth.Config) { c.Now = nil }) // the seeds stay valid on the real clock for a day
	k := keys()
	now := time.Now()
	claims := jwtClaims(jwt.MapClaims{"iat": now.Unix(), "exp": now.Add(24 * time.Hour).Unix()})
	valid := []string{
		mint(f, auth.Claims{Agent: "bot", Scopes: []auth.Scope{auth.ScopeReadonly}, Expiry: now.Add(24 * time.Hour)}),
		pyToken(testSecret, `{"agent":"py","scopes":["container:read"],"expiry":"`+now.Add(24*time.Hour).UTC().Format("2006-01-02T15:04:05")+`"}`),
		signJWT(f, jwt.SigningMethodEdDSA, k.ed, "ed", claims),
		signJWT(f, jwt.SigningMethodES256, k.ec, "ec", claims),
		signJWT(f, jwt.SigningMethodRS256, k.rsa, "rsa", claims),
		signJWT(f, jwt.SigningMethodHS256, testSecret, "", claims),
	}
	for _, tok := range valid {
		if _, err := v.Verify(tok); err != nil {
			f.Fatalf("seed %.20s… does not verify: %v", tok, err)
		}
		f.Add(tok)
		f.Add(tok[:len(tok)-1])
		f.Add(strings.Replace(tok, ".", "..", 1))
		f.Add(strings.ToUpper(tok))
	}
	for _, s := range []string{"", ".", "a.b", "a.b.c", "eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.", "Bearer x", strings.Repeat("A", auth.MaxTokenLen+1)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		c, err := v.Verify(raw)
		if err != nil {
			assertNoLeak(t, err, raw, testSecret)
			return
		}
		names := make([]string, len(c.Scopes))
		for i, s := range c.Scopes {
			names[i] = string(s)
		}
		if _, err := auth.CheckScopes(names); err != nil || c.Agent == "" {
			t.Fatalf("Verify(%q) accepted a caller %+v with unknown scopes or no agent: %v", raw, c, err)
		}
	})
}

// FuzzParseJWKS: a key set from anywhere (a file, an identity provider's
// URL) is refused or holds only keys that verify signatures, never
// panicking.
func FuzzParseJWKS(f *testing.F) {
	k := keys()
	for _, ks := range [][]jose.JSONWebKey{
		{{Key: k.ed.Public(), KeyID: "ed"}, {Key: k.ec.Public(), KeyID: "ec", Use: "sig"}, {Key: k.rsa.Public(), KeyID: "rsa", Algorithm: "RS256"}},
		{{Key: k.rsa.Public()}},
		{{Key: k.ec, KeyID: "private"}},
		{{Key: []byte("0123456789abcdef0123"), KeyID: "hs"}},
	} {
		b, err := json.Marshal(jose.JSONWebKeySet{Keys: ks})
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	for _, s := range []string{"", "{}", `{"keys":[]}`, `{"keys":[{}]}`, `{"keys":[{"kty":"EC","crv":"P-256","x":"","y":""}]}`, "null", `{"keys":null}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		set, err := auth.ParseJWKS(data)
		if err != nil {
			if set != nil {
				t.Fatalf("ParseJWKS returned a set with an error: %v", err)
			}
			return
		}
		if set.Len() == 0 {
			t.Fatalf("ParseJWKS(%q) accepted an empty set", data)
		}
		if _, err := auth.NewVerifier(auth.Config{JWKS: set}); err != nil {
			t.Fatalf("ParseJWKS(%q) accepted a set a verifier refuses: %v", data, err)
		}
	})
}

// FuzzScopesFromGrants gives the grant parser arbitrary capability
// values: it never panics, grants only known scopes, and takes a rule
// only when it is one JSON object with the key "scopes", spelt so, once,
// each of whose scopes it grants.
func FuzzScopesFromGrants(f *testing.F) {
	for _, s := range []string{`{"scopes":["readonly"]}`, `{"scopes":["admin","container:write"]}`, `{"scopes":["readonly"],"scopes":["admin"]}`,
		`{"SCOPES":["admin"]}`, `{"scopes":["admin"]}}`, `{"scopes":[]}`, `["admin"]`, ` {"scopes" : [ "system:read" ] } `} {
		f.Add(s)
	}
	known := map[auth.Scope]bool{}
	for _, s := range auth.Known() {
		known[s] = true
	}
	f.Fuzz(func(t *testing.T, v string) {
		scopes, rejected := auth.ScopesFromGrants([]string{v})
		for _, s := range scopes {
			if !known[s] {
				t.Fatalf("%q granted unknown scope %q", v, s)
			}
		}
		if len(rejected) > 0 {
			if len(scopes) != 0 {
				t.Fatalf("%q rejected, yet granted %v", v, scopes)
			}
			return
		}
		var m map[string][]string
		dec := json.NewDecoder(strings.NewReader(v))
		if err := dec.Decode(&m); err != nil || len(m) != 1 || m["scopes"] == nil || strings.Count(v, `"scopes"`) < 1 {
			t.Fatalf("%q accepted, but is not one object with the key scopes: %v %v", v, m, err)
		}
		for _, n := range m["scopes"] {
			found := false
			for _, s := range scopes {
				found = found || string(s) == n
			}
			if !found {
				t.Fatalf("%q accepted without granting %q: %v", v, n, scopes)
			}
		}
	})
}
