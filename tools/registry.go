// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"fmt"
	"log/slog"
	"path/filepath"
	"slices"
	"strings"
)

// Deps is what tool handlers need from the running server. A zero Deps
// is usable: defaults are documented per field.
type Deps struct {
	// Logger receives the tools' own log lines; nil means slog.Default().
	Logger *slog.Logger
	// FileRoots are the directories the file tools may read; empty means
	// /var/log.
	FileRoots []string
	// FileDeny are extra deny-list patterns for the file tools, added to
	// the built-in list of secrets.
	FileDeny []string
	// Protected are the paths the server keeps its own secrets and state
	// in. CheckProtected refuses file roots that reach them, and the file
	// tools refuse them and everything beneath them, by device and inode,
	// whatever the roots reach; nil means none.
	Protected []ProtectedPath
}

// Roots are the file roots the file tools use: FileRoots, or /var/log.
// The sandbox grants read access to exactly these.
func (d *Deps) Roots() []string {
	if d == nil || len(d.FileRoots) == 0 {
		return []string{defaultFileRoot}
	}
	return d.FileRoots
}

// CheckRoots checks that every file root is an absolute path, so that
// the server refuses to start rather than serve tools that fail every
// call. A root that does not exist (yet) is not an error: its calls say
// it is unavailable.
func (d *Deps) CheckRoots() error {
	for _, r := range d.Roots() {
		if !filepath.IsAbs(r) {
			return fmt.Errorf("%q: must be an absolute path", r)
		}
	}
	return nil
}

// CheckDeny checks that the extra deny-list patterns parse.
func (d *Deps) CheckDeny() error {
	_, err := newDenyList(d.FileDeny)
	return err
}

func (d *Deps) logger() *slog.Logger {
	if d == nil || d.Logger == nil {
		return slog.Default()
	}
	return d.Logger
}

// All returns the tools still declared in this package (the domains not
// yet moved into packages of their own under tools/), in a stable order.
func All(d *Deps) []Spec {
	if d == nil {
		d = &Deps{}
	}
	var all []Spec
	all = append(all, fileTools(d)...)
	all = append(all, testTools(d)...)
	return all
}

// Names returns the names of specs, in order.
func Names(specs []Spec) []string {
	out := make([]string, len(specs))
	for i := range specs {
		out[i] = specs[i].Name()
	}
	return out
}

// Selection says which tools a server enables.
type Selection struct {
	// Enable, when not empty, keeps only the named tools.
	Enable []string
	// Disable removes the named tools.
	Disable []string
	// ReadOnly keeps only tools annotated read-only.
	ReadOnly bool
}

// CheckNames returns an error naming every one of names that matches no
// tool in all, with the known names, or nil.
func CheckNames(all []Spec, names []string) error {
	known := Names(all)
	var unknown []string
	for _, n := range names {
		if !slices.Contains(known, n) {
			unknown = append(unknown, fmt.Sprintf("%q", n))
		}
	}
	if len(unknown) > 0 {
		return fmt.Errorf("unknown tool %s (known: %s)", strings.Join(unknown, ", "), strings.Join(known, ", "))
	}
	return nil
}

// Select applies sel to all, in a fixed order: the enable list, then the
// disable list, then read-only. Names that match no tool are an error
// naming them.
func Select(all []Spec, sel Selection) ([]Spec, error) {
	if err := CheckNames(all, append(slices.Clone(sel.Enable), sel.Disable...)); err != nil {
		return nil, err
	}
	var out []Spec
	for _, s := range all {
		switch {
		case len(sel.Enable) > 0 && !slices.Contains(sel.Enable, s.Name()):
		case slices.Contains(sel.Disable, s.Name()):
		case sel.ReadOnly && !s.ReadOnly():
		default:
			out = append(out, s)
		}
	}
	return out, nil
}
