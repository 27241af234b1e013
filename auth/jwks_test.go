// SPDX-License-Identifier: Apache-2.0

package auth_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-jose/go-jose/v4"

	"github.com/tailops/tailops/auth"
)

func TestLoadJWKSRefuses(t *testing.T) {
	k := keys()
	small, err := rsa.GenerateKey(rand.Reader, 1024)
	if err != nil {
		t.Fatal(err)
	}
	p384, err := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	writeRaw := func(data string) string {
		path := filepath.Join(t.TempDir(), "jwks.json")
		if err := os.WriteFile(path, []byte(data), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}

	tests := []struct {
		name    string
		path    string
		errText string
	}{
		{"symmetric key", writeKeySet(t, jose.JSONWebKey{Key: []byte("0123456789abcdef0123"), KeyID: "hs"}), "symmetric"},
		{"Ed25519 private key", writeKeySet(t, jose.JSONWebKey{Key: k.ed, KeyID: "ed"}), "private"},
		{"EC private key", writeKeySet(t, jose.JSONWebKey{Key: k.ec, KeyID: "ec"}), "private"},
		{"RSA private key", writeKeySet(t, jose.JSONWebKey{Key: k.rsa, KeyID: "rsa"}), "private"},
		{"RSA 1024 bits", writeKeySet(t, jose.JSONWebKey{Key: small.Public(), KeyID: "rsa"}), "2048"},
		{"EC P-384", writeKeySet(t, jose.JSONWebKey{Key: p384.Public(), KeyID: "ec"}), "P-256"},
		{"encryption key", writeKeySet(t, jose.JSONWebKey{Key: k.ec.Public(), KeyID: "ec", Use: "enc"}), "sig"},
		{"alg not the key type's", writeKeySet(t, jose.JSONWebKey{Key: k.rsa.Public(), KeyID: "rsa", Algorithm: "PS256"}), "RS256"},
		{"several keys, one without kid", writeKeySet(t,
			jose.JSONWebKey{Key: k.ed.Public(), KeyID: "ed"},
			jose.JSONWebKey{Key: k.ec.Public()}), "kid"},
		{"duplicate kid", writeKeySet(t,
			jose.JSONWebKey{Key: k.ed.Public(), KeyID: "k"},
			jose.JSONWebKey{Key: k.ec.Public(), KeyID: "k"}), "twice"},
		{"no keys", writeRaw(`{"keys":[]}`), "no keys"},
		{"not JSON", writeRaw(`keys: none`), "parsing"},
		{"missing file", filepath.Join(t.TempDir(), "absent.json"), "no such file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := auth.LoadJWKS(tt.path)
			if err == nil {
				t.Fatalf("LoadJWKS = %v, want an error", set)
			}
			if !strings.Contains(err.Error(), tt.errText) {
				t.Errorf("error %q does not mention %q", err, tt.errText)
			}
		})
	}
}

func TestLoadJWKSAccepts(t *testing.T) {
	k := keys()
	tests := []struct {
		name string
		keys []jose.JSONWebKey
	}{
		{"one key without kid", []jose.JSONWebKey{{Key: k.rsa.Public()}}},
		{"three keys with alg and use", []jose.JSONWebKey{
			{Key: k.ed.Public(), KeyID: "ed", Algorithm: "EdDSA", Use: "sig"},
			{Key: k.ec.Public(), KeyID: "ec", Algorithm: "ES256", Use: "sig"},
			{Key: k.rsa.Public(), KeyID: "rsa", Algorithm: "RS256", Use: "sig"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := auth.LoadJWKS(writeKeySet(t, tt.keys...)); err != nil {
				t.Fatalf("LoadJWKS: %v", err)
			}
		})
	}
}
