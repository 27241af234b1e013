// SPDX-License-Identifier: Apache-2.0

package auth_test

import (
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tailops/tailops/auth"
)

func TestNewVerifierRefusesBadConfig(t *testing.T) {
	tests := []struct {
		name string
		cfg  auth.Config
	}{
		{"no secret and no key set", auth.Config{}},
		{"secret of 15 bytes", auth.Config{Secret: []byte("0123456789abcde")}},
		{"empty secret", auth.Config{Secret: []byte{}}},
		{"empty key set", auth.Config{JWKS: &auth.JWKS{}}},
		{"negative clock skew", auth.Config{Secret: testSecret, ClockSkew: -time.Second}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := auth.NewVerifier(tt.cfg); err == nil {
				t.Fatal("NewVerifier succeeded, want an error")
			}
		})
	}
	if _, err := auth.NewVerifier(auth.Config{Secret: []byte("0123456789abcdef")}); err != nil {
		t.Errorf("NewVerifier with a 16-byte secret: %v", err)
	}
}

// TestVerifyRejects runs every attack against a verifier; each must fail
// with its sentinel and without echoing the token or the secret.
func TestVerifyRejects(t *testing.T) {
	k := keys()
	hour := testNow.Add(time.Hour)
	rsaDER, err := x509.MarshalPKIXPublicKey(&k.rsa.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	rsaPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: rsaDER})
	jwksOnly := func(c *auth.Config) { c.Secret = nil }
	withAudience := func(c *auth.Config) { c.Audience = "tailops" }
	withIssuer := func(c *auth.Config) { c.Issuer = "https://idp.example" }
	maxDay := func(c *auth.Config) { c.MaxLifetime = 24 * time.Hour }
	hmacToken := func(c auth.Claims) func(*testing.T) string {
		return func(t *testing.T) string { return mint(t, c) }
	}
	jwtToken := func(m jwt.SigningMethod, key any, kid string, edits jwt.MapClaims) func(*testing.T) string {
		return func(t *testing.T) string { return signJWT(t, m, key, kid, jwtClaims(edits)) }
	}
	validHMAC := auth.Claims{Agent: "bot", Scopes: []auth.Scope{auth.ScopeContainerRead}, Expiry: hour, IssuedAt: testNow, ID: "hmac-1"}

	tests := []struct {
		name   string
		cfg    func(*auth.Config)
		revoke auth.Revocations
		token  func(*testing.T) string
		want   error
	}{
		{name: "no token", token: func(*testing.T) string { return "" }, want: auth.ErrMalformed},
		{name: "no dot", token: func(*testing.T) string { return "not-a-token-at-all" }, want: auth.ErrMalformed},
		{name: "four parts", token: func(*testing.T) string { return "aaaa.bbbb.cccc.dddd" }, want: auth.ErrMalformed},
		{name: "jwt of garbage", token: func(*testing.T) string { return "!!!!!!!!.????????.********" }, want: auth.ErrMalformed},
		{
			name: "oversized garbage, 9000 bytes",
			token: func(*testing.T) string {
				return strings.Repeat("a", 4500) + "." + strings.Repeat("b", 4499)
			},
			want: auth.ErrTooLong,
		},
		{
			name: "oversized validly signed token",
			token: func(t *testing.T) string {
				c := validHMAC
				c.Agent = strings.Repeat("a", 7000)
				tok := mint(t, c)
				if len(tok) <= auth.MaxTokenLen {
					t.Fatalf("token is only %d bytes", len(tok))
				}
				return tok
			},
			want: auth.ErrTooLong,
		},
		{
			name: "exactly MaxTokenLen bytes is read",
			token: func(*testing.T) string {
				return strings.Repeat("a", auth.MaxTokenLen-65) + "." + strings.Repeat("b", 64)
			},
			want: auth.ErrBadSignature,
		},

		// HMAC tokens.
		{
			name: "hmac tampered signature",
			token: func(t *testing.T) string {
				tok := mint(t, validHMAC)
				last := byte('0')
				if tok[len(tok)-1] == '0' {
					last = '1'
				}
				return tok[:len(tok)-1] + string(last)
			},
			want: auth.ErrBadSignature,
		},
		{
			name: "hmac payload widened to admin, old signature",
			token: func(t *testing.T) string {
				body, sig, _ := strings.Cut(mint(t, validHMAC), ".")
				data, err := base64.RawURLEncoding.DecodeString(body)
				if err != nil {
					t.Fatal(err)
				}
				widened := strings.Replace(string(data), `"container:read"`, `"admin"`, 1)
				if widened == string(data) {
					t.Fatal("payload not widened")
				}
				return base64.RawURLEncoding.EncodeToString([]byte(widened)) + "." + sig
			},
			want: auth.ErrBadSignature,
		},
		{
			name: "hmac signed with another secret",
			token: func(*testing.T) string {
				return pyToken([]byte("another-secret-0123456789"), `{"agent":"x","scopes":["admin"]}`)
			},
			want: auth.ErrBadSignature,
		},
		{
			name: "hmac signature in upper-case hex",
			token: func(t *testing.T) string {
				b, s, _ := strings.Cut(mint(t, validHMAC), ".")
				return b + "." + strings.ToUpper(s)
			},
			want: auth.ErrBadSignature,
		},
		{name: "hmac when no secret is configured", cfg: jwksOnly, token: hmacToken(validHMAC), want: auth.ErrAlgorithm},
		{
			name:  "hmac expired",
			token: hmacToken(auth.Claims{Agent: "bot", Expiry: testNow.Add(-time.Hour), IssuedAt: testNow.Add(-2 * time.Hour)}),
			want:  auth.ErrExpired,
		},
		{
			name:  "hmac issued in the future beyond skew",
			token: hmacToken(auth.Claims{Agent: "bot", Expiry: hour, IssuedAt: testNow.Add(5 * time.Minute)}),
			want:  auth.ErrNotYetValid,
		},
		{
			name:  "hmac without expiry, refused by default",
			token: func(*testing.T) string { return pyToken(testSecret, `{"agent":"legacy","scopes":["readonly"]}`) },
			want:  auth.ErrNoExpiry,
		},
		{
			name: "hmac with null expiry, refused by default",
			token: func(*testing.T) string {
				return pyToken(testSecret, `{"agent":"legacy","scopes":["readonly"],"expiry":null}`)
			},
			want: auth.ErrNoExpiry,
		},
		{
			name: "hmac without agent",
			token: func(*testing.T) string {
				return pyToken(testSecret, `{"scopes":["readonly"],"expiry":"2025-11-16T00:00:00"}`)
			},
			want: auth.ErrMalformed,
		},
		{
			name:  "hmac with unparseable expiry",
			token: func(*testing.T) string { return pyToken(testSecret, `{"agent":"a","scopes":[],"expiry":"tomorrow"}`) },
			want:  auth.ErrMalformed,
		},
		{
			name:  "hmac with payload that is not JSON",
			token: func(*testing.T) string { return pyToken(testSecret, `agent=admin`) },
			want:  auth.ErrMalformed,
		},
		{
			name:  "hmac lifetime too long",
			cfg:   maxDay,
			token: hmacToken(auth.Claims{Agent: "bot", Expiry: testNow.Add(48 * time.Hour), IssuedAt: testNow}),
			want:  auth.ErrLifetime,
		},
		{name: "hmac revoked by jti", revoke: auth.Revocations{TokenIDs: []string{"hmac-1"}}, token: hmacToken(validHMAC), want: auth.ErrRevoked},
		{name: "hmac revoked by agent", revoke: auth.Revocations{Agents: []string{"bot"}}, token: hmacToken(validHMAC), want: auth.ErrRevoked},

		// Algorithm attacks on JWTs.
		{
			name: "jwt alg none",
			token: func(t *testing.T) string {
				s, err := jwt.NewWithClaims(jwt.SigningMethodNone, jwtClaims(nil)).SignedString(jwt.UnsafeAllowNoneSignatureType)
				if err != nil {
					t.Fatal(err)
				}
				return s
			},
			want: auth.ErrAlgorithm,
		},
		{name: "jwt HS256 keyed with RSA public PEM, key set only", cfg: jwksOnly, token: jwtToken(jwt.SigningMethodHS256, rsaPEM, "", nil), want: auth.ErrAlgorithm},
		{name: "jwt HS256 keyed with RSA public DER, key set only", cfg: jwksOnly, token: jwtToken(jwt.SigningMethodHS256, rsaDER, "", nil), want: auth.ErrAlgorithm},
		{name: "jwt HS256 keyed with RSA public PEM, kid rsa", cfg: jwksOnly, token: jwtToken(jwt.SigningMethodHS256, rsaPEM, "rsa", nil), want: auth.ErrAlgorithm},
		{name: "jwt HS256 keyed with RSA public PEM, secret also set", token: jwtToken(jwt.SigningMethodHS256, rsaPEM, "", nil), want: auth.ErrBadSignature},
		{name: "jwt HS256 keyed with RSA public DER, secret also set", token: jwtToken(jwt.SigningMethodHS256, rsaDER, "", nil), want: auth.ErrBadSignature},
		{name: "jwt HS256 naming the RSA kid, secret also set", token: jwtToken(jwt.SigningMethodHS256, rsaPEM, "rsa", nil), want: auth.ErrAlgorithm},
		{name: "jwt HS256 with the secret naming the RSA kid", token: jwtToken(jwt.SigningMethodHS256, testSecret, "rsa", nil), want: auth.ErrAlgorithm},
		{name: "jwt HS384 with the secret", token: jwtToken(jwt.SigningMethodHS384, testSecret, "", nil), want: auth.ErrAlgorithm},
		{name: "jwt ES256 whose kid names the RSA key", token: jwtToken(jwt.SigningMethodES256, k.ec, "rsa", nil), want: auth.ErrAlgorithm},
		{name: "jwt RS256 whose kid names the EC key", token: jwtToken(jwt.SigningMethodRS256, k.rsa, "ec", nil), want: auth.ErrAlgorithm},
		{name: "jwt PS256 with the RSA key", token: jwtToken(jwt.SigningMethodPS256, k.rsa, "rsa", nil), want: auth.ErrAlgorithm},
		{name: "jwt unknown kid", token: jwtToken(jwt.SigningMethodRS256, k.rsa, "nope", nil), want: auth.ErrUnknownKey},
		{
			name: "jwt with a numeric kid",
			token: func(t *testing.T) string {
				tok := jwt.NewWithClaims(jwt.SigningMethodEdDSA, jwtClaims(nil))
				tok.Header["kid"] = 1
				s, err := tok.SignedString(k.ed)
				if err != nil {
					t.Fatal(err)
				}
				return s
			},
			want: auth.ErrUnknownKey,
		},
		{name: "jwt without kid against several keys", token: jwtToken(jwt.SigningMethodRS256, k.rsa, "", nil), want: auth.ErrUnknownKey},
		{
			name: "jwt EdDSA signed by a foreign key",
			token: func(t *testing.T) string {
				_, other, err := ed25519.GenerateKey(rand.Reader)
				if err != nil {
					t.Fatal(err)
				}
				return signJWT(t, jwt.SigningMethodEdDSA, other, "ed", jwtClaims(nil))
			},
			want: auth.ErrBadSignature,
		},

		// JWT claims.
		{name: "jwt expired", token: jwtToken(jwt.SigningMethodHS256, testSecret, "", jwt.MapClaims{"iat": testNow.Add(-2 * time.Hour).Unix(), "exp": testNow.Add(-time.Hour).Unix()}), want: auth.ErrExpired},
		{name: "jwt without exp", token: jwtToken(jwt.SigningMethodEdDSA, k.ed, "ed", jwt.MapClaims{"exp": nil}), want: auth.ErrNoExpiry},
		{name: "jwt nbf in the future", token: jwtToken(jwt.SigningMethodES256, k.ec, "ec", jwt.MapClaims{"nbf": testNow.Add(time.Minute).Unix()}), want: auth.ErrNotYetValid},
		{name: "jwt iat in the future beyond skew", token: jwtToken(jwt.SigningMethodRS256, k.rsa, "rsa", jwt.MapClaims{"iat": testNow.Add(5 * time.Minute).Unix()}), want: auth.ErrNotYetValid},
		{name: "jwt wrong audience", cfg: withAudience, token: jwtToken(jwt.SigningMethodHS256, testSecret, "", jwt.MapClaims{"aud": []string{"other", "more"}}), want: auth.ErrAudience},
		{name: "jwt missing audience", cfg: withAudience, token: jwtToken(jwt.SigningMethodHS256, testSecret, "", nil), want: auth.ErrAudience},
		{name: "jwt empty audience", cfg: withAudience, token: jwtToken(jwt.SigningMethodHS256, testSecret, "", jwt.MapClaims{"aud": ""}), want: auth.ErrAudience},
		{name: "jwt wrong issuer", cfg: withIssuer, token: jwtToken(jwt.SigningMethodHS256, testSecret, "", jwt.MapClaims{"iss": "https://evil.example"}), want: auth.ErrIssuer},
		{name: "jwt missing issuer", cfg: withIssuer, token: jwtToken(jwt.SigningMethodHS256, testSecret, "", nil), want: auth.ErrIssuer},
		{name: "jwt lifetime too long", cfg: maxDay, token: jwtToken(jwt.SigningMethodHS256, testSecret, "", jwt.MapClaims{"exp": testNow.Add(48 * time.Hour).Unix()}), want: auth.ErrLifetime},
		{name: "jwt lifetime too long without iat", cfg: maxDay, token: jwtToken(jwt.SigningMethodHS256, testSecret, "", jwt.MapClaims{"iat": nil, "exp": testNow.Add(48 * time.Hour).Unix()}), want: auth.ErrLifetime},
		{name: "jwt without agent or sub", token: jwtToken(jwt.SigningMethodHS256, testSecret, "", jwt.MapClaims{"sub": nil}), want: auth.ErrMalformed},
		{name: "jwt with both scope and scopes", token: jwtToken(jwt.SigningMethodHS256, testSecret, "", jwt.MapClaims{"scopes": []string{"admin"}}), want: auth.ErrMalformed},
		{name: "jwt with exp as a string", token: jwtToken(jwt.SigningMethodHS256, testSecret, "", jwt.MapClaims{"exp": "2030-01-01"}), want: auth.ErrMalformed},
		{name: "jwt revoked by jti", revoke: auth.Revocations{TokenIDs: []string{"jwt-1"}}, token: jwtToken(jwt.SigningMethodEdDSA, k.ed, "ed", nil), want: auth.ErrRevoked},
		{name: "jwt revoked by agent", revoke: auth.Revocations{Agents: []string{"ci-bot"}}, token: jwtToken(jwt.SigningMethodES256, k.ec, "ec", nil), want: auth.ErrRevoked},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := newVerifier(t, tt.cfg)
			v.SetRevocations(tt.revoke)
			raw := tt.token(t)
			c, err := v.Verify(raw)
			if !errors.Is(err, tt.want) {
				t.Fatalf("Verify error = %v, want %v", err, tt.want)
			}
			if c != nil {
				t.Errorf("Verify returned caller %+v with its error", c)
			}
			assertNoLeak(t, err, raw, testSecret, rsaPEM)
		})
	}
}

func TestVerifyAcceptsWithinClockSkew(t *testing.T) {
	v := newVerifier(t, nil)
	tests := []struct {
		name  string
		token string
	}{
		{"hmac expired 10s ago", mint(t, auth.Claims{Agent: "bot", Expiry: testNow.Add(-10 * time.Second), IssuedAt: testNow.Add(-time.Hour)})},
		{"hmac issued 10s ahead", mint(t, auth.Claims{Agent: "bot", Expiry: testNow.Add(time.Hour), IssuedAt: testNow.Add(10 * time.Second)})},
		{"jwt expired 10s ago", signJWT(t, jwt.SigningMethodHS256, testSecret, "", jwtClaims(jwt.MapClaims{"exp": testNow.Add(-10 * time.Second).Unix()}))},
		{"jwt nbf 10s ahead", signJWT(t, jwt.SigningMethodHS256, testSecret, "", jwtClaims(jwt.MapClaims{"nbf": testNow.Add(10 * time.Second).Unix()}))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := v.Verify(tt.token); err != nil {
				t.Fatalf("Verify: %v", err)
			}
		})
	}
}
