// SPDX-License-Identifier: Apache-2.0

package approval

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"syscall"
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
// The audit log, the webhook and approvers see only digests.
//
// The key file is opened without following symbolic links: a symbolic
// link at its path is an error naming it, and is never replaced. A key
// file that was accessible by others is kept, set to mode 0600, with a
// warning that the digests may be exposed (whoever read the key can test
// guesses of redacted arguments against them): rotating it silently would
// not undo that exposure for the digests already in the audit log, and
// would drop every pending approval. To rotate the key, stop the server
// and move the key file away.
//
// The store file records the key's id (see OpenStore), so a key that was
// lost or replaced is detected: the requests made under the old key can
// never match a call, and they are dropped when the store is opened, those
// still pending or approved being audited as expired.
const KeyFileSuffix = ".key"

// keyIDLabel is what the key id is the HMAC of.
const keyIDLabel = "tailops approval key id"

// keyID returns the id of a digest key recorded in the store file: the hex
// of the first 8 bytes of HMAC-SHA256(key, keyIDLabel). It tells keys
// apart without revealing anything about them.
func keyID(key []byte) string {
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(keyIDLabel))
	return hex.EncodeToString(mac.Sum(nil)[:8])
}

// validKeyID reports whether id is in keyID's format: 16 lower-case hex
// digits.
func validKeyID(id string) bool { return validID(id) }

// loadDigestKey returns the digest key in path, creating it when it does
// not exist (created is then true). The file is opened with O_NOFOLLOW: a
// symbolic link is an error naming it. A key file accessible by others is
// kept and set to mode 0600, with a warning that the digests made under
// it may be exposed; a file of the wrong size or kind is an error naming
// it. The caller holds the store's lock, so no other server creates the
// key at the same time.
func loadDigestKey(path string, logger *slog.Logger) (key []byte, created bool, err error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NOFOLLOW, 0)
	if errors.Is(err, fs.ErrNotExist) {
		key, err := createDigestKey(path)
		return key, err == nil, err
	}
	if err != nil {
		if fi, lerr := os.Lstat(path); lerr == nil && fi.Mode()&fs.ModeSymlink != 0 {
			return nil, false, fmt.Errorf("digest key %s is a symbolic link; refusing to follow it "+
				"(replace it with the key file itself)", path)
		}
		return nil, false, fmt.Errorf("reading digest key %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, false, fmt.Errorf("reading digest key %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, false, fmt.Errorf("digest key %s is not a regular file (mode %v)", path, fi.Mode())
	}
	if fi.Mode().Perm()&0o077 != 0 {
		logger.Warn("approval digest key was accessible by others: whoever read it can test guesses of "+
			"redacted arguments against the argument digests in the audit log and the approval store, "+
			"so those digests may be exposed; keeping the key and setting mode 0600 "+
			"(to rotate it, stop the server and move the key file away: pending and approved requests are then dropped)",
			slog.String("path", path), slog.String("mode", fi.Mode().Perm().String()))
		if err := f.Chmod(0o600); err != nil {
			return nil, false, fmt.Errorf("digest key %s: setting mode 0600: %w", path, err)
		}
	}
	key, err = io.ReadAll(io.LimitReader(f, DigestKeySize+1))
	if err != nil {
		return nil, false, fmt.Errorf("reading digest key %s: %w", path, err)
	}
	if len(key) != DigestKeySize {
		return nil, false, fmt.Errorf("digest key %s has %d bytes, want %d (move it away to create a new key; "+
			"requests made under the old key are then dropped)", path, len(key), DigestKeySize)
	}
	return key, false, nil
}

// createDigestKey writes a new random key to path atomically (a temporary
// file, mode 0600, fsync'd and renamed) and returns it.
func createDigestKey(path string) ([]byte, error) {
	key := make([]byte, DigestKeySize)
	rand.Read(key) // never fails
	if err := writeFileAtomic(path, key); err != nil {
		return nil, fmt.Errorf("creating digest key %s: %w", path, err)
	}
	return key, nil
}
