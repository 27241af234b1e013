// SPDX-License-Identifier: Apache-2.0

// Package auditlog is the toolset that reads TailOps' own audit log back:
// get_audit_records returns the newest records to an admin, as the log
// holds them (redacted when written), and is read as the resource
// tailops://audit/recent.
package auditlog

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/tools"
)

const (
	// DefaultLimit is how many records get_audit_records returns when
	// not told.
	DefaultLimit = 50
	// MaxLimit is the most records one call returns.
	MaxLimit = 500
	// maxRead bounds the bytes one call reads from the log's end.
	maxRead = 4 << 20
)

// Config configures the audit tools. The zero value has no log: every
// call says so.
type Config struct {
	// Path is the audit log's active file (--audit-log), as this process
	// sees it; its rotated files are beside it.
	Path string
}

// Toolset is the audit toolset, built by New.
type Toolset struct {
	cfg   Config
	specs []tools.Spec
}

var _ tools.Toolset = (*Toolset)(nil)

// New declares the audit tools; it opens nothing. A relative Path is an
// error, and the tools are then declared but unavailable.
func New(cfg Config) (*Toolset, error) {
	t := &Toolset{cfg: cfg}
	t.specs = t.declare()
	if cfg.Path != "" && !filepath.IsAbs(cfg.Path) {
		err := fmt.Errorf("the audit log's path %q is not absolute", cfg.Path)
		t.specs = tools.Unavailable(t.specs, fmt.Errorf("the audit tools are unavailable: %w", err))
		return t, err
	}
	return t, nil
}

// Name returns "audit".
func (t *Toolset) Name() string { return "audit" }

// Tools returns the audit tools.
func (t *Toolset) Tools() []tools.Spec { return slices.Clone(t.specs) }

// RecordsArgs is get_audit_records' input.
type RecordsArgs struct {
	Limit int `json:"limit,omitempty" jsonschema_description:"how many of the newest records (default 50, at most 500)"`
}

// Records is get_audit_records' output.
type Records struct {
	Count   int              `json:"count"`
	Records []map[string]any `json:"records" jsonschema_description:"the newest records, oldest first (newest last), each as the log holds it: arguments, reasons and errors redacted when written; callers by agent and tailnet identity, never a token"`
	Note    string           `json:"note,omitempty" jsonschema_description:"why fewer records than asked came back, when the log holds more"`
}

// records reads the newest records.
func (t *Toolset) records(_ context.Context, in RecordsArgs) (Records, error) {
	if t.cfg.Path == "" {
		return Records{}, errors.New("this server has no audit log to read (--audit-log)")
	}
	n := cmp.Or(in.Limit, DefaultLimit)
	if n < 1 || n > MaxLimit {
		return Records{}, tools.ArgErrorf("limit", "must be 1 to %d, got %d", MaxLimit, in.Limit)
	}
	lines, err := audit.Recent(t.cfg.Path, n, maxRead)
	if err != nil {
		// The file by its name only: the state directory's path is the
		// host's, outside every file root.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = fmt.Errorf("reading the audit log: %s %s: %w", pe.Op, filepath.Base(pe.Path), pe.Err)
		}
		return Records{}, fmt.Errorf("%w (tailops audit verify on the server checks the log)", err)
	}
	out := Records{Records: make([]map[string]any, 0, len(lines))}
	var bad error
	for _, b := range lines {
		var r map[string]any
		if err := json.Unmarshal(b, &r); err != nil {
			bad = errors.Join(bad, err)
			continue
		}
		out.Records = append(out.Records, r)
	}
	out.Count = len(out.Records)
	switch {
	case bad != nil:
		out.Note = "lines that are not JSON records were left out: run tailops audit verify on the log"
	case len(lines) < n && len(lines) > 0:
		out.Note = fmt.Sprintf("fewer than %d records: the log holds no more, or they are larger than the %d MiB read", n, maxRead>>20)
	}
	return out, nil
}

// declare declares the audit tools.
func (t *Toolset) declare() []tools.Spec {
	var needs sandbox.Needs
	if t.cfg.Path != "" {
		needs.Read = []string{filepath.Dir(t.cfg.Path)}
	}
	return []tools.Spec{
		tools.TypedSpec[RecordsArgs, Records]{
			Name: "get_audit_records", Title: "Recent audit records",
			Description: "The newest records of TailOps' audit log (default 50, at most 500), oldest first: every tool call, refusal, approval, resource read and server event, " +
				"as the log holds them (secrets redacted when written). Needs admin. Also the resource tailops://audit/recent.",
			Scope: auth.ScopeAdmin, Risk: tools.RiskModerate, Hints: tools.ReadHints, Needs: needs,
			Run:       t.records,
			Untrusted: true, // other callers' arguments and errors
		}.Spec(),
	}
}
