// SPDX-License-Identifier: Apache-2.0

package auth

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Claims are the claims of a token in the HMAC format of the original
// TailOpsMCP, which TailOps still verifies and mints.
type Claims struct {
	// Agent names the caller ("agent").
	Agent string
	// Scopes are the granted scopes ("scopes").
	Scopes []Scope
	// Expiry is when the token stops working ("expiry", an ISO-8601
	// string); zero means none.
	Expiry time.Time
	// IssuedAt is when the token was minted ("iat", unix seconds); zero
	// means unknown.
	IssuedAt time.Time
	// ID identifies the token for revocation ("jti"); original tokens have
	// none.
	ID string
}

// hmacPayload is the JSON form of Claims.
type hmacPayload struct {
	Agent    string           `json:"agent"`
	Scopes   []string         `json:"scopes"`
	Expiry   *string          `json:"expiry,omitempty"`
	IssuedAt *jwt.NumericDate `json:"iat,omitempty"`
	ID       string           `json:"jti,omitempty"`
}

// MintHMAC returns an HMAC token for c signed with secret. It refuses
// unknown scopes and requires an agent and an expiry; it fills in a random
// ID and the issue time when c lacks them.
func MintHMAC(secret []byte, c Claims) (string, error) {
	switch {
	case len(secret) < minSecretLen:
		return "", fmt.Errorf("minting token: secret is shorter than %d bytes", minSecretLen)
	case c.Agent == "":
		return "", errors.New("minting token: agent is required")
	case c.Expiry.IsZero():
		return "", errors.New("minting token: expiry is required")
	}
	names := make([]string, len(c.Scopes))
	for i, s := range c.Scopes {
		names[i] = string(s)
	}
	scopes, err := CheckScopes(names)
	if err != nil {
		return "", fmt.Errorf("minting token: %w", err)
	}
	names = names[:0]
	for _, s := range scopes {
		names = append(names, string(s))
	}
	if c.IssuedAt.IsZero() {
		c.IssuedAt = time.Now()
	}
	if !c.Expiry.After(c.IssuedAt) {
		return "", errors.New("minting token: expiry is not after the issue time")
	}
	if c.ID == "" {
		id := make([]byte, 16)
		rand.Read(id) // never fails since Go 1.24
		c.ID = hex.EncodeToString(id)
	}

	expiry := c.Expiry.UTC().Format(time.RFC3339)
	payload, err := json.Marshal(hmacPayload{
		Agent:    c.Agent,
		Scopes:   names,
		Expiry:   &expiry,
		IssuedAt: jwt.NewNumericDate(c.IssuedAt),
		ID:       c.ID,
	})
	if err != nil {
		return "", fmt.Errorf("minting token: encoding claims: %w", err)
	}
	body := base64.RawURLEncoding.EncodeToString(payload)
	return body + "." + hmacHex(secret, body), nil
}

// hmacHex returns the hex HMAC-SHA256 of body, the token's signature.
func hmacHex(secret []byte, body string) string {
	mac := hmac.New(sha256.New, secret)
	mac.Write([]byte(body))
	return hex.EncodeToString(mac.Sum(nil))
}

// verifyHMAC checks an HMAC token: signature first, then claims and times.
func (v *Verifier) verifyHMAC(raw string) (verified, error) {
	c, err := v.hmacClaims(raw)
	if err != nil {
		return verified{}, fmt.Errorf("verifying hmac token: %w", err)
	}
	now := v.cfg.Now()
	switch {
	case c.Expiry.IsZero() && !v.cfg.AllowNoExpiry:
		return verified{}, fmt.Errorf("verifying hmac token: %w", ErrNoExpiry)
	case !c.Expiry.IsZero() && !now.Before(c.Expiry.Add(v.cfg.ClockSkew)):
		return verified{}, fmt.Errorf("verifying hmac token: %w", ErrExpired)
	case !c.IssuedAt.IsZero() && now.Before(c.IssuedAt.Add(-v.cfg.ClockSkew)):
		return verified{}, fmt.Errorf("verifying hmac token: %w: issued in the future", ErrNotYetValid)
	}
	return verified{
		// Each use gets its own scopes: the kept claims are not the caller's.
		caller:   Caller{Agent: c.Agent, TokenID: c.ID, Method: MethodHMAC, Scopes: slices.Clone(c.Scopes)},
		expiry:   c.Expiry,
		issuedAt: c.IssuedAt,
	}, nil
}

// maxHMACSeen bounds Verifier.hmacSeen; past it the map starts afresh.
const maxHMACSeen = 256

// hmacClaims checks raw's signature and decodes its claims, which must
// name an agent; what depends on the time is left to the caller. A
// token whose signature and claims passed once is kept (hmacSeen), so a
// client sending its token on every request pays for the HMAC and the
// decoding once: both depend on the token and the secret alone, which a
// Verifier never changes. Only tokens that passed are kept, so the map
// holds only what someone with the secret minted. A lookup compares
// tokens by the map's seeded hash first, which an attacker cannot use as
// a timing oracle for a signature.
func (v *Verifier) hmacClaims(raw string) (Claims, error) {
	if v.cfg.Secret == nil {
		return Claims{}, fmt.Errorf("%w: hmac tokens are disabled", ErrAlgorithm)
	}
	v.hmacMu.RLock()
	c, ok := v.hmacSeen[raw]
	v.hmacMu.RUnlock()
	if ok {
		return c, nil
	}
	body, sig, _ := strings.Cut(raw, ".")
	if !hmac.Equal([]byte(sig), []byte(hmacHex(v.cfg.Secret, body))) {
		return Claims{}, ErrBadSignature
	}
	c, err := decodeHMAC(body)
	if err != nil {
		return Claims{}, err
	}
	if c.Agent == "" {
		return Claims{}, fmt.Errorf("%w: no agent", ErrMalformed)
	}
	v.hmacMu.Lock()
	if len(v.hmacSeen) >= maxHMACSeen || v.hmacSeen == nil {
		v.hmacSeen = make(map[string]Claims)
	}
	v.hmacSeen[raw] = c
	v.hmacMu.Unlock()
	return c, nil
}

// decodeHMAC decodes the claims part of an HMAC token, keeping only known
// scopes.
func decodeHMAC(body string) (Claims, error) {
	var p hmacPayload
	if err := decodeHMACBody(body, &p); err != nil {
		return Claims{}, err
	}
	c := Claims{Agent: p.Agent, Scopes: grantedScopes(p.Scopes), ID: p.ID}
	if p.Expiry != nil {
		t, err := parseISOTime(*p.Expiry)
		if err != nil {
			return Claims{}, err
		}
		c.Expiry = t
	}
	if p.IssuedAt != nil {
		c.IssuedAt = p.IssuedAt.Time
	}
	return c, nil
}

// decodeHMACBody decodes base64url JSON into dst. Padding is tolerated, as
// the original verifier did.
func decodeHMACBody(body string, dst any) error {
	data, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(body, "="))
	if err != nil {
		return fmt.Errorf("%w: claims are not base64url", ErrMalformed)
	}
	if err := json.Unmarshal(data, dst); err != nil {
		return fmt.Errorf("%w: claims are not a JSON object of the expected shape", ErrMalformed)
	}
	return nil
}

// isoLayouts are the forms of Python's datetime.isoformat() and of what
// fromisoformat() accepted in the original's mint script, after a space
// separator is turned into "T". A fractional second is accepted after the
// seconds in every layout.
var isoLayouts = []string{
	time.RFC3339,
	"2006-01-02T15:04:05",
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04",
	"2006-01-02",
}

// parseISOTime parses an ISO-8601 expiry; a time without offset is UTC.
func parseISOTime(s string) (time.Time, error) {
	if len(s) > 10 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
	}
	for _, layout := range isoLayouts {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%w: expiry is not an ISO-8601 time", ErrMalformed)
}
