// SPDX-License-Identifier: Apache-2.0

// Package files is the toolset of file access beneath configured roots:
// list_directory, get_file_info, read_file, tail_file and search_files
// (scope file:read), confined by openat2 beneath each root, a deny-list
// of secrets, and a wall around the server's own files (see files.go).
package files

import (
	"context"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"

	"github.com/tailops/tailops/tools"
)

// Config configures the file tools. The zero value reads /var/log, with
// the built-in deny-list only.
type Config struct {
	// Roots are the directories the tools may read (--file-root,
	// file_roots), each an absolute path; empty means /var/log. A root
	// that does not exist (yet) is no error: its calls say it is
	// unavailable.
	Roots []string
	// Deny are deny-list patterns (file_deny) added to DefaultFileDeny.
	Deny []string
	// Protected are the paths the server keeps its own secrets and state
	// in: New refuses roots that reach them, and the tools refuse them and
	// everything beneath them, by device and inode, whatever the roots
	// reach; nil means none.
	Protected []ProtectedPath
	// Logger receives the tools' own log lines; nil means slog.Default().
	Logger *slog.Logger
}

// ConfigError is a Config the file tools cannot use: the field at fault
// ("Roots", for a root that is not absolute or reaches a protected path;
// "Deny", for a pattern that does not parse), and why.
type ConfigError struct {
	Field string
	Err   error
}

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

// Toolset is the file toolset, built by New; Open opens its roots.
type Toolset struct {
	fileSystem
	roots []string
	specs []tools.Spec
}

var (
	_ tools.Toolset = (*Toolset)(nil)
	_ tools.Opener  = (*Toolset)(nil)
	_ tools.Closer  = (*Toolset)(nil)
)

// New checks cfg (absolute roots that reach none of the protected paths,
// comparing paths with symlinks resolved; deny patterns that parse) and
// declares the file tools. It opens nothing: until Open, every root is
// unavailable. On error, a *ConfigError, the Toolset is still returned,
// its tools declared but unavailable (tools.Unavailable), so that a
// server can name them and start without them when none is enabled.
func New(cfg Config) (*Toolset, error) {
	roots := rootsOf(cfg)
	err := checkRoots(roots, cfg.Protected)
	if err != nil {
		err = &ConfigError{Field: "Roots", Err: err}
	}
	deny, derr := newDenyList(cfg.Deny)
	if derr != nil && err == nil {
		err = &ConfigError{Field: "Deny", Err: derr}
	}
	t := &Toolset{roots: roots}
	t.fileSystem = *newFileSystem(cfg, deny)
	t.specs = t.declare()
	if err != nil {
		t.specs = tools.Unavailable(t.specs, fmt.Errorf("file tools are unavailable: %w", err))
	}
	return t, err
}

// Name returns "files".
func (t *Toolset) Name() string { return "files" }

// Tools returns the file tools.
func (t *Toolset) Tools() []tools.Spec { return slices.Clone(t.specs) }

// Roots returns the roots the tools read beneath, as configured: the
// sandbox must grant read access to exactly these.
func (t *Toolset) Roots() []string { return slices.Clone(t.roots) }

// Denied reports whether rel, a slash-separated path relative to a root,
// or a directory on the way to it, is on the deny-list (the built-in
// patterns and Config.Deny), as the file tools match it before opening:
// other toolsets that read under the roots apply the same list.
func (t *Toolset) Denied(rel string) bool { return t.deny.match(rel) }

// Protected returns a check of whether a file, by device and inode, is
// one of the server's own protected paths (or recorded beneath one), as
// the file tools refuse it after opening; the check holds one snapshot,
// for one walk. In a tailops_nocheck build it reports nothing.
func (t *Toolset) Protected() func(dev, ino uint64) bool { return t.protectedEntries() }

// Open opens each root as a directory handle, so that the tools can open
// files beneath it once the process is under Landlock; call it before
// the sandbox is applied. A root that cannot be opened stays unavailable,
// and the reason is logged.
func (t *Toolset) Open(context.Context) error {
	t.openRoots()
	return nil
}

// Close closes the roots' handles.
func (t *Toolset) Close() error { return t.closeRoots() }

// rootsOf returns cfg's roots, or the default one.
func rootsOf(cfg Config) []string {
	if len(cfg.Roots) == 0 {
		return []string{defaultFileRoot}
	}
	return slices.Clone(cfg.Roots)
}

// checkRoots checks that every root is an absolute path, so that the
// server refuses to start rather than serve tools that fail every call,
// and that none reaches a protected path (checkProtected).
func checkRoots(roots []string, protected []ProtectedPath) error {
	for _, r := range roots {
		if !filepath.IsAbs(r) {
			return fmt.Errorf("%q: must be an absolute path", r)
		}
	}
	return checkProtected(roots, protected)
}
