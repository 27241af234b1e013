// SPDX-License-Identifier: Apache-2.0

package auth

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"encoding/json"
	"errors"
	"fmt"
	"os"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
)

const minRSABits = 2048

// JWKS is a set of public keys for verifying JWTs, each bound to the one
// algorithm its type allows: Ed25519 to EdDSA, P-256 to ES256, RSA to RS256.
type JWKS struct {
	keys []jwksKey
}

type jwksKey struct {
	id     string
	alg    string
	public any
}

// key returns the key named kid, or the only key when kid is empty and the
// set holds one; nil when there is none (or s is nil).
func (s *JWKS) key(kid string) *jwksKey {
	if s == nil {
		return nil
	}
	if kid == "" {
		if len(s.keys) == 1 {
			return &s.keys[0]
		}
		return nil
	}
	for i := range s.keys {
		if s.keys[i].id == kid {
			return &s.keys[i]
		}
	}
	return nil
}

// Len is the number of keys in the set.
func (s *JWKS) Len() int {
	if s == nil {
		return 0
	}
	return len(s.keys)
}

// LoadJWKS reads a JSON Web Key Set of public signing keys from path, as
// ParseJWKS checks it.
func LoadJWKS(path string) (*JWKS, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("loading key set: %w", err)
	}
	set, err := ParseJWKS(data)
	if err != nil {
		return nil, fmt.Errorf("loading key set %s: %w", path, err)
	}
	return set, nil
}

// ParseJWKS parses a JSON Web Key Set of public signing keys. It refuses
// symmetric and private keys, RSA keys under 2048 bits, EC curves other
// than P-256, and keys without kid in a set of several.
func ParseJWKS(data []byte) (*JWKS, error) {
	var set jose.JSONWebKeySet
	if err := json.Unmarshal(data, &set); err != nil {
		return nil, fmt.Errorf("parsing: %w", err)
	}
	if len(set.Keys) == 0 {
		return nil, errors.New("no keys")
	}
	out := &JWKS{}
	for i, k := range set.Keys {
		if k.KeyID == "" && len(set.Keys) > 1 {
			return nil, fmt.Errorf("key #%d has no kid; every key needs one when the set holds several", i)
		}
		if k.KeyID != "" && out.key(k.KeyID) != nil {
			return nil, fmt.Errorf("kid %q appears twice", k.KeyID)
		}
		alg, err := keyAlgorithm(&k)
		if err != nil {
			return nil, fmt.Errorf("checking key #%d (kid %q): %w", i, k.KeyID, err)
		}
		out.keys = append(out.keys, jwksKey{id: k.KeyID, alg: alg, public: k.Key})
	}
	return out, nil
}

// keyAlgorithm returns the one JWT algorithm k may verify, or why k is
// not acceptable.
func keyAlgorithm(k *jose.JSONWebKey) (string, error) {
	if _, ok := k.Key.([]byte); ok {
		return "", errors.New("symmetric (oct) keys are refused; HS256 uses the configured secret")
	}
	if !k.IsPublic() {
		return "", errors.New("private keys are refused; the key set must hold public keys only")
	}
	if k.Use != "" && k.Use != "sig" {
		return "", fmt.Errorf("use is %q, not \"sig\"", k.Use)
	}
	var alg string
	switch pub := k.Key.(type) {
	case ed25519.PublicKey:
		alg = jwt.SigningMethodEdDSA.Alg()
	case *ecdsa.PublicKey:
		if pub.Curve != elliptic.P256() {
			return "", fmt.Errorf("EC curve %s is refused; only P-256 is accepted", pub.Curve.Params().Name)
		}
		alg = jwt.SigningMethodES256.Alg()
	case *rsa.PublicKey:
		if bits := pub.N.BitLen(); bits < minRSABits {
			return "", fmt.Errorf("RSA key has %d bits; at least %d are required", bits, minRSABits)
		}
		alg = jwt.SigningMethodRS256.Alg()
	default:
		return "", fmt.Errorf("key type %T is not supported", k.Key)
	}
	if k.Algorithm != "" && k.Algorithm != alg {
		return "", fmt.Errorf("alg is %q but this key type verifies only %s", k.Algorithm, alg)
	}
	return alg, nil
}
