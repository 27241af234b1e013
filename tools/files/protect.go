// SPDX-License-Identifier: Apache-2.0

package files

import (
	"fmt"
	"path/filepath"
)

// The server's own secrets and state are never reachable through a file
// tool. Two walls keep them out:
//
//   - At start, New refuses any file root that contains, equals or
//     lies inside a protected path (Config.Protected: the state
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

// checkProtected checks that no root contains, equals or lies inside a
// protected path. Both sides are compared with
// symlinks resolved; a path that does not exist yet (a state directory
// before the first start) is resolved through its nearest existing
// ancestor. The error names the root, the protected path and what it is.
func checkProtected(roots []string, protected []ProtectedPath) error {
	for _, root := range roots {
		rr := resolveAncestors(root)
		for _, pp := range protected {
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

// resolveAncestors returns p, made absolute, with symlinks resolved;
// when p does not exist (or cannot be resolved), its nearest ancestor that
// can be is resolved and the rest appended as it is.
func resolveAncestors(p string) string {
	if abs, err := filepath.Abs(p); err == nil {
		p = abs
	}
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
