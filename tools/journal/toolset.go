// SPDX-License-Identifier: Apache-2.0

// Package journal is the toolset that reads the systemd journal:
// get_journal (scope system:read) returns entries filtered by unit,
// priority, time, boot and text, or those around a moment across all
// units. It reads journald's files directly (package
// github.com/tailops/tailops/journal), bounded in memory whatever the
// journal's size, and needs read access to the journal directories only:
// the systemd-journal group (or root), never a capability.
package journal

import (
	"cmp"
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"

	"github.com/tailops/tailops/auth"
	jfile "github.com/tailops/tailops/journal"
	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/tools"
)

// Config configures the journal toolset. The zero value reads journald's
// own directories, /var/log/journal and /run/log/journal.
type Config struct {
	// Dirs are the journal directories as this process sees them (host
	// prefixes such as HOST_VAR applied by main), each absolute; files in
	// them and one level down are read. Empty means jfile.DefaultDirs.
	Dirs []string
	// Logger receives the tools' own log lines; nil means slog.Default().
	Logger *slog.Logger
}

// Toolset is the journal toolset, built by New.
type Toolset struct {
	dirs  []string
	log   *slog.Logger
	specs []tools.Spec
	// maxScan bounds the entries a call examines (defaultMaxScan); a
	// field so that a test can meet the bound with a small journal.
	maxScan int
}

var _ tools.Toolset = (*Toolset)(nil)

// New validates cfg and declares the journal tools. On error the Toolset is
// still returned, its tools declared but unavailable (tools.Unavailable), so
// that a server can name them and start without them when none is enabled.
func New(cfg Config) (*Toolset, error) {
	dirs := slices.Clone(cfg.Dirs)
	if len(dirs) == 0 {
		dirs = slices.Clone(jfile.DefaultDirs)
	}
	var err error
	for i, d := range dirs {
		if !filepath.IsAbs(d) {
			err = fmt.Errorf("journal directory %q: must be an absolute path", d)
			break
		}
		dirs[i] = filepath.Clean(d)
	}
	t := &Toolset{dirs: dirs, log: cmp.Or(cfg.Logger, slog.Default()), maxScan: defaultMaxScan}
	t.specs = t.declare()
	if err != nil {
		t.specs = tools.Unavailable(t.specs, fmt.Errorf("the journal tools are unavailable: %w", err))
	}
	return t, err
}

// Name returns "journal".
func (t *Toolset) Name() string { return "journal" }

// Tools returns the journal tools.
func (t *Toolset) Tools() []tools.Spec { return slices.Clone(t.specs) }

// Dirs returns the journal directories the tools read.
func (t *Toolset) Dirs() []string { return slices.Clone(t.dirs) }

// declare declares the journal tools.
func (t *Toolset) declare() []tools.Spec {
	return []tools.Spec{
		tools.TypedSpec[GetArgs, Result]{
			Name: "get_journal", Title: "Read the systemd journal",
			Description: "Read systemd journal entries, newest first (or oldest first), each with its time, unit, priority, PID, " +
				"identifier and message. Filters: unit (a unit's own processes, and systemd's messages about it, as journalctl -u), " +
				"priority (that level and more severe, as journalctl -p), since/until, boot (as journalctl -b), grep (a Go RE2 " +
				"regular expression on the message, case-insensitive unless it has an upper-case letter: journalctl's smart case). " +
				"For \"what happened around\" a moment, give around (a time) and window (default 5m): entries of all units (or the unit " +
				"given) from around-window to around+window, half of lines before the moment and half after. Bounded by lines and " +
				"max_bytes; the result says when more matched. Messages are redacted of secrets. Reading needs the systemd-journal group.",
			Scope: auth.ScopeSystemRead, Risk: tools.RiskModerate, Hints: tools.ReadHints,
			Needs:     sandbox.Needs{Read: slices.Clone(t.dirs)},
			Run:       t.get,
			Untrusted: true, // journal messages
			Text:      resultText,
		}.Spec(),
	}
}
