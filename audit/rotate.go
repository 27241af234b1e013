// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// rotatedDigits is the width of a rotated file's number.
const rotatedDigits = 6

// rotatedName is the name the active file gets when it is rotated as the
// n-th file.
func rotatedName(path string, n uint64) string {
	return fmt.Sprintf("%s.%0*d", path, rotatedDigits, n)
}

// rotatedFile is a rotated sibling of the active file.
type rotatedFile struct {
	n    uint64
	path string
}

// rotatedFiles lists path's rotated siblings, oldest first. A name counts
// if it is the active file's name, a dot and at least six digits.
func rotatedFiles(path string) ([]rotatedFile, error) {
	dir, base := filepath.Dir(path), filepath.Base(path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var out []rotatedFile
	for _, e := range entries {
		rest, ok := strings.CutPrefix(e.Name(), base+".")
		if !ok || len(rest) < rotatedDigits || strings.Trim(rest, "0123456789") != "" {
			continue
		}
		n, err := strconv.ParseUint(rest, 10, 64)
		if err != nil {
			continue
		}
		out = append(out, rotatedFile{n: n, path: filepath.Join(dir, e.Name())})
	}
	slices.SortFunc(out, func(a, b rotatedFile) int { return cmp.Compare(a.n, b.n) })
	return out, nil
}

// Files returns the files of the log at path in chain order: its rotated
// siblings (<path>.NNNNNN, oldest = lowest number first), then path itself
// if it exists. The head, lock and torn files are not included.
func Files(path string) ([]string, error) {
	// Look for the active file before listing the directory: a rotation
	// in between then shows as the renamed file in the listing, rather
	// than as neither file.
	_, err := os.Lstat(path)
	active := err == nil
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("listing audit log files: %w", err)
	}
	rotated, err := rotatedFiles(path)
	if err != nil {
		return nil, fmt.Errorf("listing audit log files: %w", err)
	}
	out := make([]string, 0, len(rotated)+1)
	for _, r := range rotated {
		out = append(out, r.path)
	}
	if active {
		out = append(out, path)
	}
	return out, nil
}

// rotate renames the active file, which the caller has synced, to the next
// rotated name, makes the rename durable and opens a new active file. It
// runs in the flushing goroutine.
func (l *Log) rotate() error {
	if err := l.f.Close(); err != nil {
		l.f = nil
		return fmt.Errorf("rotating audit log: closing: %w", err)
	}
	l.f = nil
	dst := rotatedName(l.path, l.nextRotation)
	if _, err := os.Lstat(dst); err == nil {
		return fmt.Errorf("rotating audit log: %s already exists", dst)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("rotating audit log: %w", err)
	}
	if err := os.Rename(l.path, dst); err != nil {
		return fmt.Errorf("rotating audit log: %w", err)
	}
	f, err := os.OpenFile(l.path, os.O_RDWR|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("rotating audit log: creating new file: %w", err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("rotating audit log: %w", err)
	}
	l.f, l.id = f, idOf(fi)
	l.size = 0
	l.nextRotation++
	if err := syncDir(filepath.Dir(l.path)); err != nil {
		return fmt.Errorf("rotating audit log: %w", err)
	}
	l.logger.Info("audit log rotated", "path", l.path, "rotated_to", dst)
	return nil
}

// syncDir fsyncs a directory so renames and creations in it are durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("syncing directory: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("syncing directory: %w", err)
	}
	return nil
}
