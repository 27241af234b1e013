// SPDX-License-Identifier: Apache-2.0

package auth_test

import (
	"slices"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"

	"github.com/tailops/tailops/auth"
)

func TestVerifyJWT(t *testing.T) {
	k := keys()
	v := newVerifier(t, func(c *auth.Config) {
		c.Audience = "tailops"
		c.Issuer = "https://idp.example"
		c.MaxLifetime = 24 * time.Hour
	})
	base := jwt.MapClaims{"aud": "tailops", "iss": "https://idp.example"}
	with := func(edits jwt.MapClaims) jwt.MapClaims {
		c := jwtClaims(base)
		for name, val := range edits {
			if val == nil {
				delete(c, name)
			} else {
				c[name] = val
			}
		}
		return c
	}
	read := []auth.Scope{auth.ScopeContainerRead, auth.ScopeFileRead}

	tests := []struct {
		name   string
		method jwt.SigningMethod
		key    any
		kid    string
		claims jwt.MapClaims
		want   auth.Caller
	}{
		{"HS256 with the secret", jwt.SigningMethodHS256, testSecret, "", with(nil),
			auth.Caller{Agent: "ci-bot", TokenID: "jwt-1", Scopes: read}},
		{"EdDSA", jwt.SigningMethodEdDSA, k.ed, "ed", with(nil),
			auth.Caller{Agent: "ci-bot", TokenID: "jwt-1", Scopes: read}},
		{"ES256", jwt.SigningMethodES256, k.ec, "ec", with(nil),
			auth.Caller{Agent: "ci-bot", TokenID: "jwt-1", Scopes: read}},
		{"RS256", jwt.SigningMethodRS256, k.rsa, "rsa", with(nil),
			auth.Caller{Agent: "ci-bot", TokenID: "jwt-1", Scopes: read}},
		{"scopes as an array", jwt.SigningMethodES256, k.ec, "ec",
			with(jwt.MapClaims{"scope": nil, "scopes": []string{"system:admin", "network:diag"}}),
			auth.Caller{Agent: "ci-bot", TokenID: "jwt-1", Scopes: []auth.Scope{auth.ScopeSystemAdmin, auth.ScopeNetworkDiag}}},
		{"scope string with unknown names", jwt.SigningMethodEdDSA, k.ed, "ed",
			with(jwt.MapClaims{"scope": "openid  readonly profile"}),
			auth.Caller{Agent: "ci-bot", TokenID: "jwt-1", Scopes: []auth.Scope{auth.ScopeReadonly}}},
		{"no scopes", jwt.SigningMethodHS256, testSecret, "",
			with(jwt.MapClaims{"scope": nil}),
			auth.Caller{Agent: "ci-bot", TokenID: "jwt-1", Scopes: []auth.Scope{}}},
		{"agent claim wins over sub", jwt.SigningMethodRS256, k.rsa, "rsa",
			with(jwt.MapClaims{"agent": "claude"}),
			auth.Caller{Agent: "claude", TokenID: "jwt-1", Scopes: read}},
		{"no jti, audience list", jwt.SigningMethodHS256, testSecret, "",
			with(jwt.MapClaims{"jti": nil, "aud": []string{"grafana", "tailops"}}),
			auth.Caller{Agent: "ci-bot", Scopes: read}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := v.Verify(signJWT(t, tt.method, tt.key, tt.kid, tt.claims))
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			tt.want.Method = auth.MethodJWT
			if c.Agent != tt.want.Agent || c.TokenID != tt.want.TokenID || c.Method != tt.want.Method ||
				!slices.Equal(c.Scopes, tt.want.Scopes) {
				t.Errorf("caller = %+v, want %+v", c, tt.want)
			}
		})
	}
}

// TestVerifyJWTSingleKey checks that a token without kid uses the only key
// of a one-key set, and only with that key's algorithm.
func TestVerifyJWTSingleKey(t *testing.T) {
	k := keys()
	set, err := auth.LoadJWKS(writeKeySet(t, jose.JSONWebKey{Key: k.ed.Public()}))
	if err != nil {
		t.Fatalf("LoadJWKS: %v", err)
	}
	v, err := auth.NewVerifier(auth.Config{JWKS: set, Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := v.Verify(signJWT(t, jwt.SigningMethodEdDSA, k.ed, "", jwtClaims(nil))); err != nil {
		t.Errorf("EdDSA without kid: %v", err)
	}
	if _, err := v.Verify(signJWT(t, jwt.SigningMethodES256, k.ec, "", jwtClaims(nil))); err == nil {
		t.Error("ES256 token verified against a key set holding only an Ed25519 key")
	}
}
