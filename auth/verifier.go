// SPDX-License-Identifier: Apache-2.0

package auth

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Errors returned, wrapped, by Verify and Inspect. Their text never contains
// the token or the secret.
var (
	// ErrMalformed reports a token that cannot be decoded or lacks a required claim.
	ErrMalformed = errors.New("malformed token")
	// ErrTooLong reports a token longer than MaxTokenLen bytes.
	ErrTooLong = errors.New("token too long")
	// ErrBadSignature reports a signature that does not match.
	ErrBadSignature = errors.New("bad token signature")
	// ErrAlgorithm reports a signing algorithm not accepted for the token or its key.
	ErrAlgorithm = errors.New("signing algorithm not accepted")
	// ErrExpired reports a token past its expiry.
	ErrExpired = errors.New("token expired")
	// ErrNoExpiry reports a token without an expiry where one is required.
	ErrNoExpiry = errors.New("token has no expiry")
	// ErrNotYetValid reports a token whose nbf or iat lies in the future.
	ErrNotYetValid = errors.New("token not yet valid")
	// ErrLifetime reports a token whose lifetime exceeds Config.MaxLifetime.
	ErrLifetime = errors.New("token lifetime too long")
	// ErrAudience reports a JWT not addressed to Config.Audience.
	ErrAudience = errors.New("token audience not accepted")
	// ErrIssuer reports a JWT not issued by Config.Issuer.
	ErrIssuer = errors.New("token issuer not accepted")
	// ErrRevoked reports a token whose ID or agent is revoked.
	ErrRevoked = errors.New("token revoked")
	// ErrUnknownKey reports a JWT naming no key of the key set.
	ErrUnknownKey = errors.New("unknown signing key")
)

// MaxTokenLen is the longest raw token, in bytes, that Verify and Inspect read.
const MaxTokenLen = 8192

const (
	minSecretLen     = 16
	defaultClockSkew = 30 * time.Second
)

// Config configures a Verifier.
type Config struct {
	// Secret is the shared secret for HMAC tokens and HS256 JWTs; nil
	// disables both.
	Secret []byte
	// JWKS holds the public keys for EdDSA, ES256 and RS256 JWTs; nil
	// disables them.
	JWKS *JWKS
	// RemoteJWKS is a key set fetched from a URL, in place of JWKS (not
	// with it); nil means none. A token naming a kid it lacks makes it
	// fetch again (at most once per its MinInterval).
	RemoteJWKS *RemoteJWKS
	// Audience, when set, must be among a JWT's aud.
	Audience string
	// Issuer, when set, must equal a JWT's iss.
	Issuer string
	// MaxLifetime, when > 0, bounds exp - iat (exp - now without iat) of
	// JWT and HMAC tokens. It does not apply to HMAC tokens without expiry
	// admitted by AllowNoExpiry.
	MaxLifetime time.Duration
	// ClockSkew is the leeway for exp, nbf and iat; 0 means 30s.
	ClockSkew time.Duration
	// AllowNoExpiry accepts legacy HMAC tokens without expiry. JWTs always
	// need exp.
	AllowNoExpiry bool
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// Verifier checks bearer tokens. It is safe for concurrent use.
type Verifier struct {
	cfg     Config
	methods []string
	parser  *jwt.Parser
	revoked atomic.Pointer[revocationSet]

	onRevokeMu sync.Mutex
	onRevoke   []func() // see OnRevocations

	hmacMu   sync.RWMutex
	hmacSeen map[string]Claims // see hmacClaims
}

// verified is what a token proved, before lifetime and revocation checks.
type verified struct {
	caller   Caller
	expiry   time.Time
	issuedAt time.Time
}

// NewVerifier returns a Verifier for cfg. It fails when neither a secret
// nor a key set is configured, or the secret is shorter than 16 bytes.
func NewVerifier(cfg Config) (*Verifier, error) {
	switch {
	case cfg.Secret == nil && cfg.JWKS == nil && cfg.RemoteJWKS == nil:
		return nil, errors.New("creating verifier: neither a secret nor a key set is configured")
	case cfg.JWKS != nil && cfg.RemoteJWKS != nil:
		return nil, errors.New("creating verifier: a key set and a key set URL are both configured; choose one")
	case cfg.Secret != nil && len(cfg.Secret) < minSecretLen:
		return nil, fmt.Errorf("creating verifier: secret is shorter than %d bytes", minSecretLen)
	case cfg.JWKS != nil && len(cfg.JWKS.keys) == 0:
		return nil, errors.New("creating verifier: key set holds no keys")
	case cfg.ClockSkew < 0:
		return nil, errors.New("creating verifier: clock skew is negative")
	}
	cfg.Secret = bytes.Clone(cfg.Secret)
	if cfg.ClockSkew == 0 {
		cfg.ClockSkew = defaultClockSkew
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}

	var methods []string
	if cfg.Secret != nil {
		methods = append(methods, jwt.SigningMethodHS256.Alg())
	}
	if cfg.JWKS != nil {
		for _, k := range cfg.JWKS.keys {
			if !slices.Contains(methods, k.alg) {
				methods = append(methods, k.alg)
			}
		}
	}
	if cfg.RemoteJWKS != nil {
		// The set changes as it is fetched again: every algorithm a key
		// type allows, each key still verifying only its own (jwtKey).
		methods = append(methods, jwt.SigningMethodEdDSA.Alg(), jwt.SigningMethodES256.Alg(), jwt.SigningMethodRS256.Alg())
	}
	opts := []jwt.ParserOption{
		jwt.WithValidMethods(methods),
		jwt.WithExpirationRequired(),
		jwt.WithLeeway(cfg.ClockSkew),
		jwt.WithIssuedAt(),
		jwt.WithTimeFunc(cfg.Now),
	}
	if cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(cfg.Audience))
	}
	if cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(cfg.Issuer))
	}

	v := &Verifier{cfg: cfg, methods: methods, parser: jwt.NewParser(opts...)}
	v.revoked.Store(newRevocationSet(Revocations{}))
	return v, nil
}

// Verify checks raw, an HMAC token or a JWT, and returns its caller.
// Errors wrap one of the Err* sentinels.
func (v *Verifier) Verify(raw string) (*Caller, error) {
	if len(raw) > MaxTokenLen {
		return nil, fmt.Errorf("verifying token: %w", ErrTooLong)
	}
	var (
		t   verified
		err error
	)
	switch strings.Count(raw, ".") {
	case 1:
		t, err = v.verifyHMAC(raw)
	case 2:
		t, err = v.verifyJWT(raw)
	default:
		if raw == "" {
			return nil, fmt.Errorf("verifying token: %w: no token", ErrMalformed)
		}
		return nil, fmt.Errorf("verifying token: %w: not an HMAC token or a JWT", ErrMalformed)
	}
	if err != nil {
		return nil, err
	}
	if err := v.checkLifetime(t.expiry, t.issuedAt); err != nil {
		return nil, fmt.Errorf("verifying token: %w", err)
	}
	if v.revoked.Load().revokes(&t.caller) {
		return nil, fmt.Errorf("verifying token: %w", ErrRevoked)
	}
	return &t.caller, nil
}

// checkLifetime enforces MaxLifetime on a token that has an expiry.
func (v *Verifier) checkLifetime(expiry, issuedAt time.Time) error {
	if v.cfg.MaxLifetime <= 0 || expiry.IsZero() {
		return nil
	}
	start := issuedAt
	if start.IsZero() {
		start = v.cfg.Now()
	}
	if expiry.Sub(start) > v.cfg.MaxLifetime {
		return fmt.Errorf("%w: exceeds %s", ErrLifetime, v.cfg.MaxLifetime)
	}
	return nil
}

// grantedScopes keeps the known scopes among names, once each. Unknown
// names grant nothing, so dropping them never widens a grant.
func grantedScopes(names []string) []Scope {
	out := make([]Scope, 0, len(names))
	for _, n := range names {
		if s := Scope(n); s.Valid() && !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	return out
}
