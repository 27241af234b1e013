// SPDX-License-Identifier: Apache-2.0

package auth_test

import (
	"errors"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/tailops/tailops/auth"
)

// TestRevocationIgnoresEmptyID checks that an empty revoked ID does not
// revoke every token without a jti.
func TestRevocationIgnoresEmptyID(t *testing.T) {
	v := newVerifier(t, nil)
	v.SetRevocations(auth.Revocations{TokenIDs: []string{""}})
	raw := pyToken(testSecret, `{"agent":"old","scopes":[],"expiry":"2025-11-16T00:00:00"}`)
	if _, err := v.Verify(raw); err != nil {
		t.Errorf("Verify: %v", err)
	}
}

// TestOnRevocations: every function registered is called after each
// SetRevocations, with the new list already in force.
func TestOnRevocations(t *testing.T) {
	v := newVerifier(t, nil)
	c := &auth.Caller{Agent: "bot", TokenID: "t1"}
	var seen []bool
	for range 2 {
		v.OnRevocations(func() { seen = append(seen, v.Revoked(c)) })
	}
	v.SetRevocations(auth.Revocations{TokenIDs: []string{"t1"}})
	v.SetRevocations(auth.Revocations{})
	if want := []bool{true, true, false, false}; !slices.Equal(seen, want) {
		t.Errorf("the callbacks saw Revoked = %v, want %v", seen, want)
	}
}

// TestSetRevocationsConcurrent swaps revocation lists while verifying;
// run it with -race. Every result must be a success or ErrRevoked, and the
// last list set must win.
func TestSetRevocationsConcurrent(t *testing.T) {
	v := newVerifier(t, nil)
	tokens := []string{
		mint(t, auth.Claims{Agent: "bot", Expiry: testNow.Add(time.Hour), IssuedAt: testNow, ID: "tok"}),
		signJWT(t, jwt.SigningMethodEdDSA, keys().ed, "ed", jwtClaims(jwt.MapClaims{"jti": "tok"})),
	}
	revoked := auth.Revocations{TokenIDs: []string{"tok"}}

	var wg sync.WaitGroup
	errs := make(chan error, 4*200)
	for i := range 4 {
		tok := tokens[i%len(tokens)]
		wg.Go(func() {
			for range 200 {
				if _, err := v.Verify(tok); err != nil && !errors.Is(err, auth.ErrRevoked) {
					errs <- err
				}
			}
		})
	}
	wg.Go(func() {
		for i := range 200 {
			if i%2 == 0 {
				v.SetRevocations(revoked)
			} else {
				v.SetRevocations(auth.Revocations{})
			}
		}
	})
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("Verify during SetRevocations: %v", err)
	}

	for _, tok := range tokens {
		v.SetRevocations(revoked)
		if _, err := v.Verify(tok); !errors.Is(err, auth.ErrRevoked) {
			t.Errorf("after SetRevocations: err = %v, want ErrRevoked", err)
		}
		v.SetRevocations(auth.Revocations{})
		if _, err := v.Verify(tok); err != nil {
			t.Errorf("after clearing revocations: %v", err)
		}
	}
}
