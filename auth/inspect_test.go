// SPDX-License-Identifier: Apache-2.0

package auth_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tailops/tailops/auth"
)

func TestInspect(t *testing.T) {
	expired := testNow.Add(-time.Hour)
	tests := []struct {
		name       string
		raw        string
		kind       auth.Method
		agentClaim string
		header     map[string]any
		expiry     time.Time
	}{
		{
			name:       "expired minted hmac",
			raw:        mint(t, auth.Claims{Agent: "bot", Expiry: expired, IssuedAt: expired.Add(-time.Hour)}),
			kind:       auth.MethodHMAC,
			agentClaim: "agent",
			expiry:     expired,
		},
		{
			name:       "python hmac, wrong secret, no expiry",
			raw:        pyToken([]byte("unknown-secret-0123456789"), `{"agent":"legacy","scopes":["admin"]}`),
			kind:       auth.MethodHMAC,
			agentClaim: "agent",
		},
		{
			name:       "jwt with kid",
			raw:        signJWT(t, jwt.SigningMethodES256, keys().ec, "ec", jwtClaims(nil)),
			kind:       auth.MethodJWT,
			agentClaim: "sub",
			header:     map[string]any{"alg": "ES256", "kid": "ec", "typ": "JWT"},
			expiry:     testNow.Add(time.Hour),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in, err := auth.Inspect(tt.raw)
			if err != nil {
				t.Fatalf("Inspect: %v", err)
			}
			if in.Kind != tt.kind || !in.Expiry.Equal(tt.expiry) {
				t.Errorf("kind %s expiry %v, want %s %v", in.Kind, in.Expiry, tt.kind, tt.expiry)
			}
			if in.Claims[tt.agentClaim] == nil {
				t.Errorf("claims %v lack %q", in.Claims, tt.agentClaim)
			}
			for name, want := range tt.header {
				if in.Header[name] != want {
					t.Errorf("header[%s] = %v, want %v", name, in.Header[name], want)
				}
			}
			out, err := json.Marshal(in)
			if err != nil {
				t.Fatal(err)
			}
			sig := tt.raw[strings.LastIndex(tt.raw, ".")+1:]
			if strings.Contains(string(out), sig) {
				t.Errorf("inspection %s holds the signature", out)
			}
		})
	}
}

func TestInspectRefuses(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want error
	}{
		{"empty", "", auth.ErrMalformed},
		{"oversized", strings.Repeat("a", 9000), auth.ErrTooLong},
		{"hmac not base64", "!!!!.abcd", auth.ErrMalformed},
		{"jwt not base64", "!!!!.????.****", auth.ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := auth.Inspect(tt.raw); !errors.Is(err, tt.want) {
				t.Errorf("Inspect error = %v, want %v", err, tt.want)
			}
		})
	}
}
