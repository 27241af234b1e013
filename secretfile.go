// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"io"
	"os"
)

// maxSecretFile bounds what a secret file may hold.
const maxSecretFile = 64 << 10

// readSecretFile reads a file holding a secret (the shared secret, the
// Tailscale auth key). One that other users may access (any "other"
// permission bit) is refused, as the approval webhook's secret is: they
// could read the secret too, and with the shared secret mint any token.
// what names the file in errors.
func readSecretFile(path, what string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s %s is not a regular file (mode %v)", what, path, fi.Mode())
	}
	if perm := fi.Mode().Perm(); perm&0o007 != 0 {
		return nil, fmt.Errorf("%s %s is accessible by other users (mode %v): chmod o-rwx it (0600 is usual)", what, path, perm)
	}
	b, err := io.ReadAll(io.LimitReader(f, maxSecretFile+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", what, err)
	}
	if len(b) > maxSecretFile {
		return nil, fmt.Errorf("%s %s is over %d bytes", what, path, maxSecretFile)
	}
	return b, nil
}
