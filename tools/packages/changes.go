// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"cmp"
	"slices"
)

// Change is one package that an install or upgrade changed, as dpkg's
// status file says before and after.
type Change struct {
	Name         string `json:"name"`
	Architecture string `json:"architecture"`
	// Action is installed, upgraded, downgraded or removed.
	Action string `json:"action" jsonschema:"enum=installed,enum=upgraded,enum=downgraded,enum=removed"`
	// From is the version before; empty for a package newly installed.
	From string `json:"from,omitempty"`
	// To is the version after; empty for a package removed.
	To string `json:"to,omitempty"`
}

// pkgKey is a package of the status file: its name and architecture.
type pkgKey struct{ name, arch string }

// snapshot returns the installed packages' versions (state installed)
// from the dpkg status file.
func (t *Toolset) snapshot() (map[pkgKey]string, error) {
	m := map[pkgKey]string{}
	err := readStatus(t.status, func(p *installed) error {
		if p.state() == "installed" {
			m[pkgKey{p.Name, p.Arch}] = p.Version
		}
		return nil
	})
	return m, err
}

// diff returns what changed from before to after, sorted by name and
// architecture.
func diff(before, after map[pkgKey]string) []Change {
	out := []Change{}
	for k, to := range after {
		switch from, ok := before[k]; {
		case !ok:
			out = append(out, Change{Name: k.name, Architecture: k.arch, Action: "installed", To: to})
		case from != to && Compare(to, from) > 0:
			out = append(out, Change{Name: k.name, Architecture: k.arch, Action: "upgraded", From: from, To: to})
		case from != to:
			out = append(out, Change{Name: k.name, Architecture: k.arch, Action: "downgraded", From: from, To: to})
		}
	}
	for k, from := range before {
		if _, ok := after[k]; !ok {
			out = append(out, Change{Name: k.name, Architecture: k.arch, Action: "removed", From: from})
		}
	}
	slices.SortFunc(out, func(a, b Change) int {
		return cmp.Or(cmp.Compare(a.Name, b.Name), cmp.Compare(a.Architecture, b.Architecture))
	})
	return out
}

// installedVersion returns name's installed version (any architecture),
// "" when it is not installed.
func installedVersion(m map[pkgKey]string, name string) string {
	for k, v := range m {
		if k.name == name {
			return v
		}
	}
	return ""
}
