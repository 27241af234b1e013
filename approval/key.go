// SPDX-License-Identifier: Apache-2.0

package approval

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
)

// KeyFileSuffix names the digest key's file: the store's path with this
// suffix (STATE_DIR/approvals.json.key for the server's store).
//
// The key is DigestKeySize random bytes of its own rather than something
// derived from the shared secret: the server can run without a shared
// secret (--stdio, or JWKS-only token verification), the key must not
// change when the shared secret is rotated (pending approvals would stop
// matching), and it can never be the token-signing key. It lives next to
// the store it protects, in the state directory (0700), with mode 0600,
// and is created once, so a restarted server computes the same digests.
// The audit log, the webhook and approvers see only digests. Losing the
// key only makes the requests made under it unusable (they expire).
const KeyFileSuffix = ".key"

// loadDigestKey returns the digest key in path, creating it when it does
// not exist. A key file readable by others is set to mode 0600 with a
// warning, like the store; a file of the wrong size is an error naming it.
// The caller holds the store's lock, so no other server creates the key
// at the same time.
func loadDigestKey(path string, logger *slog.Logger) ([]byte, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return createDigestKey(path)
	}
	if err != nil {
		return nil, fmt.Errorf("reading digest key: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading digest key: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("digest key %s is not a regular file (mode %v)", path, fi.Mode())
	}
	if fi.Mode().Perm()&0o077 != 0 {
		logger.Warn("approval digest key was accessible by others; setting mode 0600",
			slog.String("path", path), slog.String("mode", fi.Mode().Perm().String()))
		if err := f.Chmod(0o600); err != nil {
			return nil, fmt.Errorf("digest key %s: setting mode 0600: %w", path, err)
		}
	}
	key, err := io.ReadAll(io.LimitReader(f, DigestKeySize+1))
	if err != nil {
		return nil, fmt.Errorf("reading digest key: %w", err)
	}
	if len(key) != DigestKeySize {
		return nil, fmt.Errorf("digest key %s has %d bytes, want %d (move it away to create a new key; "+
			"requests made under the old key will then never match a call)", path, len(key), DigestKeySize)
	}
	return key, nil
}

// createDigestKey writes a new random key to path atomically (a temporary
// file, mode 0600, fsync'd and renamed) and returns it.
func createDigestKey(path string) ([]byte, error) {
	key := make([]byte, DigestKeySize)
	rand.Read(key) // never fails
	if err := writeFileAtomic(path, key); err != nil {
		return nil, fmt.Errorf("creating digest key: %w", err)
	}
	return key, nil
}
