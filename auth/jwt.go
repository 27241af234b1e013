// SPDX-License-Identifier: Apache-2.0

package auth

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// jwtClaims are the claims TailOps reads from a JWT.
type jwtClaims struct {
	jwt.RegisteredClaims
	Agent  string   `json:"agent"`
	Scope  *string  `json:"scope"`
	Scopes []string `json:"scopes"`
}

// verifyJWT checks a JWT with golang-jwt and maps its claims to a caller.
func (v *Verifier) verifyJWT(raw string) (verified, error) {
	var c jwtClaims
	tok, err := v.parser.ParseWithClaims(raw, &c, v.jwtKey)
	if err != nil {
		return verified{}, fmt.Errorf("verifying jwt: %w", v.jwtFailure(err, tok, &c))
	}

	agent := c.Agent
	if agent == "" {
		agent = c.Subject
	}
	if agent == "" {
		return verified{}, fmt.Errorf("verifying jwt: %w: neither agent nor sub", ErrMalformed)
	}
	names := c.Scopes
	if c.Scope != nil {
		if c.Scopes != nil {
			return verified{}, fmt.Errorf("verifying jwt: %w: both scope and scopes", ErrMalformed)
		}
		names = strings.Fields(*c.Scope)
	}
	var issuedAt time.Time
	if c.IssuedAt != nil {
		issuedAt = c.IssuedAt.Time
	}
	return verified{
		caller:   Caller{Agent: agent, TokenID: c.ID, Method: MethodJWT, Scopes: grantedScopes(names)},
		expiry:   c.ExpiresAt.Time, // WithExpirationRequired guarantees exp
		issuedAt: issuedAt,
	}, nil
}

// jwtKey is the jwt.Keyfunc. HS256 verifies with the shared secret only;
// any other algorithm verifies with the key set's key named by kid (or its
// only key when the token names none), and only if the algorithm is the
// one that key's type allows.
func (v *Verifier) jwtKey(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	kid, ok := t.Header["kid"].(string)
	if !ok && t.Header["kid"] != nil {
		return nil, keyError{fmt.Errorf("%w: kid is not a string", ErrUnknownKey)}
	}
	set := v.keySet()
	if alg == jwt.SigningMethodHS256.Alg() {
		switch {
		case v.cfg.Secret == nil:
			return nil, keyError{fmt.Errorf("%w: no secret for HS256", ErrAlgorithm)}
		case kid != "" && set.key(kid) != nil:
			return nil, keyError{fmt.Errorf("%w: HS256 token names an asymmetric key", ErrAlgorithm)}
		}
		return v.cfg.Secret, nil
	}
	if v.cfg.JWKS == nil && v.cfg.RemoteJWKS == nil {
		return nil, keyError{fmt.Errorf("%w: no key set", ErrAlgorithm)}
	}
	k := set.key(kid)
	if k == nil && v.cfg.RemoteJWKS != nil {
		k = v.cfg.RemoteJWKS.unknownKid().key(kid)
	}
	if k == nil {
		return nil, keyError{ErrUnknownKey}
	}
	if k.alg != alg {
		return nil, keyError{fmt.Errorf("%w: token is %s but its key verifies only %s", ErrAlgorithm, alg, k.alg)}
	}
	return k.public, nil
}

// keySet is the key set in use: the configured one, or the remote one's
// last good fetch (nil before the first).
func (v *Verifier) keySet() *JWKS {
	if v.cfg.RemoteJWKS != nil {
		return v.cfg.RemoteJWKS.Keys()
	}
	return v.cfg.JWKS
}

// keyError carries jwtKey's own error, whose text is safe to show, through
// golang-jwt.
type keyError struct{ error }

// jwtFailure maps a golang-jwt error to a sentinel. The library's own
// messages are dropped: some quote parts of the token.
func (v *Verifier) jwtFailure(err error, tok *jwt.Token, c *jwtClaims) error {
	var ke keyError
	if errors.As(err, &ke) {
		return ke.error
	}
	is := func(target error) bool { return errors.Is(err, target) }
	switch {
	case is(jwt.ErrTokenMalformed):
		return ErrMalformed
	case tok == nil || tok.Method == nil || !slices.Contains(v.methods, tok.Method.Alg()):
		return ErrAlgorithm // alg absent, unknown, none, or not enabled
	case is(jwt.ErrTokenSignatureInvalid):
		return ErrBadSignature
	case is(jwt.ErrTokenExpired):
		return ErrExpired
	case is(jwt.ErrTokenNotValidYet):
		return ErrNotYetValid
	case is(jwt.ErrTokenUsedBeforeIssued):
		return fmt.Errorf("%w: issued in the future", ErrNotYetValid)
	case is(jwt.ErrTokenInvalidAudience):
		return ErrAudience
	case is(jwt.ErrTokenInvalidIssuer):
		return ErrIssuer
	case is(jwt.ErrTokenRequiredClaimMissing):
		switch {
		case c.ExpiresAt == nil:
			return ErrNoExpiry
		case v.cfg.Issuer != "" && c.Issuer == "":
			return fmt.Errorf("%w: no iss", ErrIssuer)
		default:
			return fmt.Errorf("%w: no aud", ErrAudience)
		}
	default:
		return ErrMalformed
	}
}
