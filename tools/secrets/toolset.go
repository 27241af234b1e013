// SPDX-License-Identifier: Apache-2.0

// Package secrets is the toolset that looks for credentials left in
// files: scan_secrets (scope security:scan) walks the file roots the file
// tools read, with the file tools' deny-list, and applies gitleaks'
// default rule set (embedded, rules/gitleaks.toml, MIT). It reports
// where each secret is, by which rule, and a keyed fingerprint; never the
// secret itself.
package secrets

import (
	"cmp"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/tools"
)

// Config configures the secrets toolset. The zero value scans nothing
// (no roots): main gives it the file tools' roots and deny-list.
type Config struct {
	// Roots are the directories scan_secrets walks, each absolute: the
	// file tools' roots (--file-root, file_roots).
	Roots []string
	// Denied reports whether a path relative to its root (slash-separated)
	// is on the file tools' deny-list: such a file, or directory, is not
	// read; nil denies nothing.
	Denied func(rel string) bool
	// Protected returns, once per scan, a check of whether a file or
	// directory (by device and inode) is one of the server's own
	// protected paths, which the file tools refuse however they are
	// reached (a bind mount inside a root); nil protects nothing.
	Protected func() func(dev, ino uint64) bool
	// RootsErr is the file tools' configuration error (a root that is not
	// absolute or reaches the server's own files); when set, scan_secrets
	// is unavailable for the same reason.
	RootsErr error
	// Timeout bounds one scan; zero means a minute.
	Timeout time.Duration
	// Logger receives the tool's own log lines (counts, never findings'
	// contents); nil means slog.Default().
	Logger *slog.Logger
}

// Toolset is the secrets toolset, built by New.
type Toolset struct {
	roots     []string
	denied    func(string) bool
	protected func() func(dev, ino uint64) bool
	timeout   time.Duration
	// scanner compiles the embedded rules on the first scan, not at
	// start-up (a few hundred regular expressions: tens of ms and MBs
	// that a server nobody asks to scan need not pay).
	scanner func() (*scanner, error)
	log     *slog.Logger
	specs   []tools.Spec
}

var _ tools.Toolset = (*Toolset)(nil)

// New checks cfg and declares scan_secrets; the embedded rules are
// compiled on the first scan.
// On error the Toolset is still returned, its tool declared but
// unavailable (tools.Unavailable).
func New(cfg Config) (*Toolset, error) {
	t := &Toolset{roots: slices.Clone(cfg.Roots), denied: cfg.Denied, timeout: cmp.Or(cfg.Timeout, time.Minute),
		log: cmp.Or(cfg.Logger, slog.Default())}
	if t.denied == nil {
		t.denied = func(string) bool { return false }
	}
	if t.protected = cfg.Protected; t.protected == nil {
		t.protected = func() func(uint64, uint64) bool { return func(uint64, uint64) bool { return false } }
	}
	err := cfg.RootsErr
	for i, r := range t.roots {
		if !filepath.IsAbs(r) {
			err = cmp.Or(err, fmt.Errorf("root %q: must be an absolute path", r))
		}
		t.roots[i] = filepath.Clean(r)
	}
	if len(t.roots) == 0 {
		err = cmp.Or(err, errors.New("no roots to scan"))
	}
	key := make([]byte, 32)
	rand.Read(key)
	t.scanner = sync.OnceValues(func() (*scanner, error) {
		rules, err := loadRules(gitleaksTOML)
		if err != nil {
			return nil, err
		}
		return &scanner{rules: rules, key: key}, nil
	})
	t.specs = t.declare()
	if err != nil {
		t.specs = tools.Unavailable(t.specs, fmt.Errorf("scan_secrets is unavailable: %w", err))
	}
	return t, err
}

// Name returns "secrets".
func (t *Toolset) Name() string { return "secrets" }

// Tools returns scan_secrets.
func (t *Toolset) Tools() []tools.Spec { return slices.Clone(t.specs) }

// declare declares scan_secrets.
func (t *Toolset) declare() []tools.Spec {
	return []tools.Spec{
		tools.TypedSpec[ScanArgs, ScanResult]{
			Name: "scan_secrets", Title: "Scan files for leaked secrets",
			Description: "Walk the file roots (those of the file tools, with their deny-list; symlinks are not followed) " +
				"for credentials left in files: private keys, cloud keys, API tokens, passwords in configuration, by " +
				"gitleaks' default rules (keywords, entropy and allowlists honoured). Each finding has its file, line, " +
				"rule and a fingerprint (a keyed hash, stable while the server runs); the secret itself is never " +
				"returned. Bounded by max_files, max_bytes and a time limit; truncated and limits say when a bound " +
				"stopped the walk. Binary files and files on the deny-list are counted, not read.",
			Scope: auth.ScopeSecurityScan, Risk: tools.RiskModerate, Hints: tools.ReadHints,
			Needs: t.needs(),
			Run:   t.scanSecrets,
		}.Spec(),
	}
}

// needs is scan_secrets' need: read access to the roots and nothing else,
// with the file tools' fd-relative syscalls and, when TailOps runs as
// root, CAP_DAC_READ_SEARCH (root does not own every file under a root;
// which files remains Landlock's call).
func (t *Toolset) needs() sandbox.Needs {
	return sandbox.Needs{
		Read:         slices.Clone(t.roots),
		Syscalls:     []string{"openat2", "getdents64", "newfstatat", "fstat", "readlinkat", "pread64"},
		Capabilities: []string{"CAP_DAC_READ_SEARCH"},
	}
}
