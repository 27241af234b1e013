// SPDX-License-Identifier: Apache-2.0

package auth

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Inspection is what a token says about itself, read without verifying it.
// It never holds the signature.
type Inspection struct {
	// Kind is MethodHMAC or MethodJWT.
	Kind Method `json:"kind"`
	// Header is the JWT header; nil for HMAC tokens.
	Header map[string]any `json:"header,omitempty"`
	// Claims are the token's claims as decoded.
	Claims map[string]any `json:"claims"`
	// Expiry is when the token expires; zero when it has no expiry.
	Expiry time.Time `json:"expiry,omitzero"`
}

// Inspect decodes raw WITHOUT verifying its signature or validity, for
// showing a token to its operator. Never use the result to authorize.
func Inspect(raw string) (*Inspection, error) {
	if len(raw) > MaxTokenLen {
		return nil, fmt.Errorf("inspecting token: %w", ErrTooLong)
	}
	var (
		in  *Inspection
		err error
	)
	switch strings.Count(raw, ".") {
	case 1:
		in, err = inspectHMAC(raw)
	case 2:
		in, err = inspectJWT(raw)
	default:
		err = fmt.Errorf("%w: not an HMAC token or a JWT", ErrMalformed)
	}
	if err != nil {
		return nil, fmt.Errorf("inspecting token: %w", err)
	}
	return in, nil
}

func inspectHMAC(raw string) (*Inspection, error) {
	body, _, _ := strings.Cut(raw, ".")
	in := &Inspection{Kind: MethodHMAC}
	if err := decodeHMACBody(body, &in.Claims); err != nil {
		return nil, err
	}
	c, err := decodeHMAC(body)
	if err != nil {
		return nil, err
	}
	in.Expiry = c.Expiry
	return in, nil
}

func inspectJWT(raw string) (*Inspection, error) {
	claims := jwt.MapClaims{}
	tok, _, err := jwt.NewParser(jwt.WithJSONNumber()).ParseUnverified(raw, claims)
	// An unknown alg leaves the header and claims readable; show them.
	if err != nil && (tok == nil || !errors.Is(err, jwt.ErrTokenUnverifiable)) {
		return nil, fmt.Errorf("%w: not a decodable JWT", ErrMalformed)
	}
	in := &Inspection{Kind: MethodJWT, Header: tok.Header, Claims: claims}
	exp, err := claims.GetExpirationTime()
	if err != nil {
		return nil, fmt.Errorf("%w: exp is not a number", ErrMalformed)
	}
	if exp != nil {
		in.Expiry = exp.Time
	}
	return in, nil
}
