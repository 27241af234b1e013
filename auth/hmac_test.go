// SPDX-License-Identifier: Apache-2.0

package auth_test

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tailops/tailops/auth"
)

// TestMintHMACRoundTrip mints on the real clock, letting MintHMAC fill in
// the ID and issue time, and verifies on the real clock.
func TestMintHMACRoundTrip(t *testing.T) {
	v := newVerifier(t, func(c *auth.Config) { c.Now = nil; c.MaxLifetime = 2 * time.Hour })
	scopes := []auth.Scope{auth.ScopeContainerWrite, auth.ScopeFileRead}
	expiry := time.Now().Add(time.Hour)
	tok := mint(t, auth.Claims{Agent: "claude", Scopes: scopes, Expiry: expiry})

	c, err := v.Verify(tok)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if c.Agent != "claude" || c.Method != auth.MethodHMAC || !slices.Equal(c.Scopes, scopes) {
		t.Errorf("caller = %+v, want agent claude, method hmac, scopes %v", c, scopes)
	}
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(c.TokenID) {
		t.Errorf("TokenID = %q, want 16 random bytes in hex", c.TokenID)
	}
	in, err := auth.Inspect(tok)
	if err != nil {
		t.Fatalf("Inspect: %v", err)
	}
	if in.Claims["iat"] == nil || !in.Expiry.Equal(expiry.Truncate(time.Second)) {
		t.Errorf("claims %v, expiry %v: want iat filled in and expiry %v", in.Claims, in.Expiry, expiry)
	}
	other, err := v.Verify(mint(t, auth.Claims{Agent: "claude", Scopes: scopes, Expiry: expiry}))
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if other.TokenID == c.TokenID {
		t.Errorf("two minted tokens share TokenID %q", c.TokenID)
	}
}

func TestMintHMACWireFormat(t *testing.T) {
	tok := mint(t, auth.Claims{
		Agent:    "claude",
		Scopes:   []auth.Scope{auth.ScopeReadonly},
		Expiry:   time.Date(2025, 11, 15, 21, 30, 0, 0, time.FixedZone("CET", 3600)),
		IssuedAt: testNow,
		ID:       "abc",
	})
	body, sig, ok := strings.Cut(tok, ".")
	if !ok || strings.Contains(body, "=") {
		t.Fatalf("token %q is not unpadded base64url + \".\" + signature", tok)
	}
	if !regexp.MustCompile(`^[0-9a-f]{64}$`).MatchString(sig) {
		t.Errorf("signature %q is not lower-case hex HMAC-SHA256", sig)
	}
	data, err := base64.RawURLEncoding.DecodeString(body)
	if err != nil {
		t.Fatal(err)
	}
	var got map[string]any
	if err := json.Unmarshal(data, &got); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{
		"agent":  "claude",
		"scopes": []any{"readonly"},
		"expiry": "2025-11-15T20:30:00Z",
		"iat":    float64(testNow.Unix()),
		"jti":    "abc",
	}
	gotJSON, _ := json.Marshal(got)
	wantJSON, _ := json.Marshal(want)
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("claims = %s, want %s", gotJSON, wantJSON)
	}
}

func TestMintHMACRefuses(t *testing.T) {
	valid := auth.Claims{Agent: "a", Scopes: []auth.Scope{auth.ScopeReadonly}, Expiry: testNow.Add(time.Hour), IssuedAt: testNow}
	tests := []struct {
		name    string
		secret  []byte
		edit    func(*auth.Claims)
		errText string
	}{
		{name: "short secret", secret: []byte("short"), errText: "secret"},
		{name: "no agent", edit: func(c *auth.Claims) { c.Agent = "" }, errText: "agent"},
		{name: "no expiry", edit: func(c *auth.Claims) { c.Expiry = time.Time{} }, errText: "expiry"},
		{name: "expiry before issue", edit: func(c *auth.Claims) { c.Expiry = testNow.Add(-time.Minute) }, errText: "expiry"},
		{name: "unknown scope", edit: func(c *auth.Claims) { c.Scopes = append(c.Scopes, "root:everything") }, errText: `"root:everything"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := valid
			if tt.edit != nil {
				tt.edit(&c)
			}
			secret := testSecret
			if tt.secret != nil {
				secret = tt.secret
			}
			tok, err := auth.MintHMAC(secret, c)
			if err == nil {
				t.Fatalf("MintHMAC = %q, want an error", tok)
			}
			if !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("error %q does not mention %s", err, tt.errText)
			}
		})
	}
}

// TestVerifyPythonTokens verifies tokens built exactly as the original
// TailOpsMCP's mint_token.py built them, with every expiry form it wrote.
// Each must verify just before its expiry (plus skew) and fail at it.
func TestVerifyPythonTokens(t *testing.T) {
	tests := []struct {
		name   string
		expiry string
		want   time.Time
	}{
		{"isoformat aware", "2025-11-15T20:30:00+00:00", time.Date(2025, 11, 15, 20, 30, 0, 0, time.UTC)},
		{"isoformat other offset", "2025-11-15T22:30:00+02:00", time.Date(2025, 11, 15, 20, 30, 0, 0, time.UTC)},
		{"isoformat naive microseconds", "2025-11-15T20:30:00.123456", time.Date(2025, 11, 15, 20, 30, 0, 123456000, time.UTC)},
		{"utcnow isoformat plus Z", "2025-11-15T20:30:00.123456Z", time.Date(2025, 11, 15, 20, 30, 0, 123456000, time.UTC)},
		{"naive seconds", "2025-11-15T20:30:00", time.Date(2025, 11, 15, 20, 30, 0, 0, time.UTC)},
		{"space separator", "2025-11-15 20:30:00+00:00", time.Date(2025, 11, 15, 20, 30, 0, 0, time.UTC)},
		{"minutes only", "2025-11-15T20:30", time.Date(2025, 11, 15, 20, 30, 0, 0, time.UTC)},
		{"date only", "2025-11-15", time.Date(2025, 11, 15, 0, 0, 0, 0, time.UTC)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			raw := pyToken(testSecret, `{"agent":"claude","scopes":["container:read","file:read"],"expiry":"`+tt.expiry+`"}`)
			var now time.Time
			v := newVerifier(t, func(c *auth.Config) { c.Now = func() time.Time { return now } })

			now = tt.want.Add(29 * time.Second)
			c, err := v.Verify(raw)
			if err != nil {
				t.Fatalf("Verify 29s after expiry (inside skew): %v", err)
			}
			want := auth.Caller{Agent: "claude", Method: auth.MethodHMAC, Scopes: []auth.Scope{auth.ScopeContainerRead, auth.ScopeFileRead}}
			if c.Agent != want.Agent || c.TokenID != "" || c.Method != want.Method || !slices.Equal(c.Scopes, want.Scopes) {
				t.Errorf("caller = %+v, want %+v", c, want)
			}

			now = tt.want.Add(30 * time.Second)
			if _, err := v.Verify(raw); !errors.Is(err, auth.ErrExpired) {
				t.Errorf("Verify 30s after expiry: err = %v, want ErrExpired", err)
			}
		})
	}
}

func TestVerifyHMACIgnoresUnknownScopes(t *testing.T) {
	v := newVerifier(t, nil)
	raw := pyToken(testSecret, `{"agent":"old","scopes":["monitor","container:read","deploy","container:read"],"expiry":"2025-11-16T00:00:00"}`)
	c, err := v.Verify(raw)
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	if want := []auth.Scope{auth.ScopeContainerRead}; !slices.Equal(c.Scopes, want) {
		t.Errorf("scopes = %v, want %v", c.Scopes, want)
	}
}

func TestVerifyHMACAllowNoExpiry(t *testing.T) {
	allow := func(c *auth.Config) { c.AllowNoExpiry = true; c.MaxLifetime = time.Hour }
	v := newVerifier(t, allow)
	for _, claims := range []string{
		`{"agent":"legacy","scopes":["readonly"]}`,
		`{"agent":"legacy","scopes":["readonly"],"expiry":null}`,
	} {
		c, err := v.Verify(pyToken(testSecret, claims))
		if err != nil {
			t.Fatalf("Verify %s with AllowNoExpiry: %v", claims, err)
		}
		if c.Agent != "legacy" || !slices.Equal(c.Scopes, []auth.Scope{auth.ScopeReadonly}) {
			t.Errorf("caller = %+v", c)
		}
	}
	// AllowNoExpiry does not excuse a token that has an expiry from checks.
	expired := pyToken(testSecret, `{"agent":"legacy","scopes":["readonly"],"expiry":"2025-01-01T00:00:00"}`)
	if _, err := v.Verify(expired); !errors.Is(err, auth.ErrExpired) {
		t.Errorf("expired token with AllowNoExpiry: err = %v, want ErrExpired", err)
	}
}

// TestVerifyHMACAgainEachTime: a verifier keeps what an HMAC token's
// signature and claims proved, but a token seen before is held to the
// clock, to revocation and to its own bytes on every use; more distinct
// tokens than it keeps all still verify, and a caller changed by its
// user does not change the next use's.
func TestVerifyHMACAgainEachTime(t *testing.T) {
	now := testNow
	v := newVerifier(t, func(c *auth.Config) { c.Now = func() time.Time { return now } })
	tok := mint(t, auth.Claims{Agent: "a", ID: "t1", Scopes: []auth.Scope{auth.ScopeFileRead},
		IssuedAt: testNow, Expiry: testNow.Add(time.Hour)})
	c, err := v.Verify(tok)
	if err != nil {
		t.Fatalf("first use: %v", err)
	}
	c.Agent, c.Scopes[0] = "changed", auth.ScopeAdmin
	if c, err := v.Verify(tok); err != nil || c.Agent != "a" || !slices.Equal(c.Scopes, []auth.Scope{auth.ScopeFileRead}) {
		t.Errorf("second use: %+v, %v; want agent a with file:read", c, err)
	}

	// One signature character changed, and one claims character.
	sigFlip := tok[:len(tok)-1] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", tok[len(tok)-1])+1)%16])
	if _, err := v.Verify(sigFlip); !errors.Is(err, auth.ErrBadSignature) {
		t.Errorf("changed signature: %v, want ErrBadSignature", err)
	}
	if _, err := v.Verify("x" + tok[1:]); !errors.Is(err, auth.ErrBadSignature) {
		t.Errorf("changed claims: %v, want ErrBadSignature", err)
	}

	v.SetRevocations(auth.Revocations{TokenIDs: []string{"t1"}})
	if _, err := v.Verify(tok); !errors.Is(err, auth.ErrRevoked) {
		t.Errorf("after revocation: %v, want ErrRevoked", err)
	}
	v.SetRevocations(auth.Revocations{})

	now = testNow.Add(-time.Hour) // before iat, past the skew
	if _, err := v.Verify(tok); !errors.Is(err, auth.ErrNotYetValid) {
		t.Errorf("before its issue time: %v, want ErrNotYetValid", err)
	}
	now = testNow.Add(2 * time.Hour)
	if _, err := v.Verify(tok); !errors.Is(err, auth.ErrExpired) {
		t.Errorf("past its expiry: %v, want ErrExpired", err)
	}

	now = testNow
	toks := make([]string, 600) // more than the verifier keeps
	for i := range toks {
		toks[i] = mint(t, auth.Claims{Agent: fmt.Sprint("agent-", i), IssuedAt: testNow, Expiry: testNow.Add(time.Hour)})
	}
	for round := range 2 {
		for i, tok := range toks {
			if c, err := v.Verify(tok); err != nil || c.Agent != fmt.Sprint("agent-", i) {
				t.Fatalf("round %d, token %d: %+v, %v", round, i, c, err)
			}
		}
	}
}
