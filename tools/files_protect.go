// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"fmt"
	iofs "io/fs"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// The server's own secrets and state are never reachable through a file
// tool. Two walls keep them out:
//
//   - At start, Deps.CheckProtected refuses any file root that contains,
//     equals or lies inside a protected path (Deps.Protected: the state
//     directory, the audit log's directory, the secret files, the config
//     file...), comparing paths with symlinks resolved on both sides.
//   - While serving, the file tools refuse a protected path, and anything
//     beneath a protected directory, whatever a root reaches: they
//     compare the device and inode of what they opened, and of every
//     directory above it as the kernel walks "..", with those of the
//     protected paths. No spelling, symlink, hard link or bind mount gets
//     around that. This wall is part of the file tools' own checks, so
//     the tailops_nocheck build has no such wall (see PathChecks), and the
//     start check alone must hold there.

// ProtectedPath is a path the server itself keeps secrets or state in.
type ProtectedPath struct {
	// Path is absolute, as configured; it need not exist yet.
	Path string
	// What names it for messages and logs, such as "the state directory
	// (--state-dir)". Tool errors never show it.
	What string
}

// CheckProtected checks that no file root contains, equals or lies inside
// a protected path (Deps.Protected). Both sides are compared with
// symlinks resolved; a path that does not exist yet (a state directory
// before the first start) is resolved through its nearest existing
// ancestor. The error names the root, the protected path and what it is.
func (d *Deps) CheckProtected() error {
	for _, root := range d.Roots() {
		rr := resolveAncestors(root)
		for _, pp := range d.Protected {
			if pp.Path == "" {
				continue
			}
			rp := resolveAncestors(pp.Path)
			var how string
			switch _, rootInside := within(rp, rr); {
			case rr == rp:
				how = "is"
			case rootInside:
				how = "lies inside"
			default:
				if _, ok := within(rr, rp); !ok {
					continue
				}
				how = "contains"
			}
			resolved := ""
			if rr != filepath.Clean(root) || rp != filepath.Clean(pp.Path) {
				resolved = fmt.Sprintf(" (with symlinks resolved: %q and %q)", rr, rp)
			}
			return fmt.Errorf("%q %s %s %q%s: the file tools must never reach the server's own secrets and state; "+
				"choose file roots beside it, or move it out of the root", root, how, pp.What, pp.Path, resolved)
		}
	}
	return nil
}

// resolveAncestors returns the absolute path p with symlinks resolved;
// when p does not exist (or cannot be resolved), its nearest ancestor that
// can be is resolved and the rest appended as it is.
func resolveAncestors(p string) string {
	p = filepath.Clean(p)
	rest := ""
	for {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			return filepath.Join(r, rest)
		}
		parent := filepath.Dir(p)
		if parent == p {
			return filepath.Join(p, rest)
		}
		rest = filepath.Join(filepath.Base(p), rest)
		p = parent
	}
}

// protectRefresh is how long the tools use one snapshot of the protected
// paths' identities before taking another: files in the state directory
// are replaced by rename, and the state directory appears at the first
// start only after the tools are built.
const protectRefresh = time.Second

// protectMaxEntries bounds the entries beneath protected directories
// whose identities a snapshot records. Entries past it are still refused
// when reached through their protected directory; recording them only
// matters for a bind mount of a part of a protected directory.
const protectMaxEntries = 10000

// fileID identifies a file by device and inode.
type fileID struct{ dev, ino uint64 }

func idOf(st *unix.Stat_t) fileID { return fileID{dev: uint64(st.Dev), ino: st.Ino} }

// protection is what the file tools know of Deps.Protected: the paths,
// and a snapshot of the identities of each and of everything beneath the
// protected directories.
type protection struct {
	paths []ProtectedPath
	log   *slog.Logger
	every time.Duration // protectRefresh; tests shorten it

	mu      sync.Mutex
	at      time.Time
	ids     map[fileID]string // identity: what it is (ProtectedPath.What)
	capped  bool              // protectMaxEntries was reached (logged once)
	checked bool              // a snapshot was taken
}

// newProtection returns the protection of paths; nil when there are none.
func newProtection(paths []ProtectedPath, log *slog.Logger) *protection {
	paths = slices.DeleteFunc(slices.Clone(paths), func(p ProtectedPath) bool { return p.Path == "" })
	if len(paths) == 0 {
		return nil
	}
	return &protection{paths: paths, log: log, every: protectRefresh}
}

// current returns the identities of the protected paths (symlinks
// followed) and of the entries beneath the protected directories,
// refreshed when the last snapshot is older than pr.every. A nil
// protection has none.
func (pr *protection) current() map[fileID]string {
	if pr == nil {
		return nil
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.checked && time.Since(pr.at) < pr.every {
		return pr.ids
	}
	ids := map[fileID]string{}
	n := 0
	for _, pp := range pr.paths {
		var st unix.Stat_t
		if unix.Stat(pp.Path, &st) != nil {
			continue // not there (yet): nothing of it can be reached
		}
		ids[idOf(&st)] = pp.What
		if !isDir(&st) {
			continue
		}
		dir, err := filepath.EvalSymlinks(pp.Path)
		if err != nil {
			continue
		}
		_ = filepath.WalkDir(dir, func(p string, _ iofs.DirEntry, err error) error {
			if err != nil {
				return nil // unreadable: its entries stay protected through it
			}
			if n >= protectMaxEntries {
				if !pr.capped {
					pr.capped = true
					pr.log.Warn("file tools: more entries beneath the server's own directories than recorded; the rest are refused through their directory only",
						"limit", protectMaxEntries, "directory", dir)
				}
				return filepath.SkipAll
			}
			n++
			var est unix.Stat_t
			if unix.Lstat(p, &est) == nil {
				ids[idOf(&est)] = pp.What
			}
			return nil
		})
	}
	pr.ids, pr.at, pr.checked = ids, time.Now(), true
	return ids
}
