// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"fmt"
	"slices"
	"strings"
)

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
	// DisableDestructive removes every tool whose destructive hint is set
	// (or unset: see Spec.Destructive).
	DisableDestructive bool
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
// disable list, then read-only, then DisableDestructive; each only
// removes tools, so the order does not change the result, and the tools
// kept stay in all's order. Names that match no tool are an error naming
// them.
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
		case sel.DisableDestructive && s.Destructive():
		default:
			out = append(out, s)
		}
	}
	return out, nil
}
