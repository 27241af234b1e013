// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"cmp"
	"context"
	"fmt"
	"path/filepath"
	"runtime"
	"slices"
	"strings"

	"github.com/tailops/tailops/tools"
)

// CheckArgs is check_updates' input.
type CheckArgs struct {
	SecurityOnly bool `json:"security_only,omitempty" jsonschema_description:"only security updates"`
	Limit        *int `json:"limit,omitempty" jsonschema_description:"most updates returned (default 500, at most 5000); upgradable and security count them all"`
}

// CheckResult is check_updates' output.
type CheckResult struct {
	Updates    []Update `json:"updates"`
	Upgradable int      `json:"upgradable" jsonschema_description:"installed packages with a newer candidate"`
	Security   int      `json:"security" jsonschema_description:"of those, how many have their candidate from a security suite"`
	Truncated  bool     `json:"truncated" jsonschema_description:"more updates matched than limit let through"`
	Lists      []List   `json:"lists" jsonschema_description:"apt's Packages lists read, with their suite"`
	Notes      []string `json:"notes,omitempty" jsonschema_description:"lists or Release files skipped or partly read, each with why"`
}

// Update is one upgradable package.
type Update struct {
	Name         string `json:"name"`
	Architecture string `json:"architecture"`
	Current      string `json:"current" jsonschema_description:"the installed version"`
	Candidate    string `json:"candidate" jsonschema_description:"the version apt would install"`
	Security     bool   `json:"security" jsonschema_description:"the candidate comes from a security suite"`
	Suite        string `json:"suite,omitempty" jsonschema_description:"the suite the candidate comes from (a security one when it is in several)"`
	Held         bool   `json:"held,omitempty" jsonschema_description:"the package is on hold (apt-mark hold): apt upgrade leaves it"`
}

// List is one of apt's Packages lists.
type List struct {
	File     string `json:"file"`
	Origin   string `json:"origin,omitempty"`
	Label    string `json:"label,omitempty"`
	Suite    string `json:"suite,omitempty"`
	Security bool   `json:"security"`
}

// maxNotes bounds the notes of a result.
const maxNotes = 20

// candidate is an installed package and the best version the lists offer.
type candidate struct {
	arch, current string
	held          bool
	best          string
	security      bool
	suite         string
}

// nativeArch is dpkg's own architecture as Go names it, for when the
// status file does not say (dpkg not in it).
func nativeArch() string {
	switch runtime.GOARCH {
	case "386":
		return "i386"
	case "arm":
		return "armhf"
	case "ppc64le":
		return "ppc64el"
	}
	return runtime.GOARCH
}

// checkUpdates returns the upgradable packages (pendingUpdates), as
// security_only and limit ask.
func (t *Toolset) checkUpdates(ctx context.Context, in CheckArgs) (CheckResult, error) {
	limit, err := tools.IntArg("limit", in.Limit, 500, 1, 5000)
	if err != nil {
		return CheckResult{}, err
	}
	p, err := t.pendingUpdates(ctx)
	if err != nil {
		return CheckResult{}, err
	}
	res := CheckResult{Updates: []Update{}, Upgradable: p.upgradable, Security: p.security,
		Lists: slices.Clone(p.lists), Notes: slices.Clone(p.notes)}
	for _, u := range p.updates {
		if in.SecurityOnly && !u.Security {
			continue
		}
		if len(res.Updates) == limit {
			res.Truncated = true
			break
		}
		res.Updates = append(res.Updates, u)
	}
	return res, nil
}

// computePending computes the upgradable packages from the status file
// and the lists, as apt's default policy picks candidates.
func (t *Toolset) computePending(ctx context.Context) (*pending, error) {
	cands := map[string][]*candidate{}
	native := ""
	err := readStatus(t.status, func(p *installed) error {
		if p.Name == "dpkg" {
			native = p.Arch
		}
		if p.state() != "installed" {
			return nil
		}
		cands[p.Name] = append(cands[p.Name], &candidate{arch: p.Arch, current: p.Version, held: p.held()})
		return nil
	})
	if err != nil {
		return nil, err
	}
	native = cmp.Or(native, nativeArch())
	lists, notes, err := t.raiseCandidates(ctx, native, cands)
	if err != nil {
		return nil, err
	}
	p := &pending{updates: []Update{}, lists: lists}
	for name, cs := range cands {
		for _, c := range cs {
			if c.best == "" || Compare(c.best, c.current) <= 0 {
				continue
			}
			p.upgradable++
			if c.security {
				p.security++
			}
			p.updates = append(p.updates, Update{Name: name, Architecture: c.arch, Current: c.current, Candidate: c.best,
				Security: c.security, Suite: c.suite, Held: c.held})
		}
	}
	slices.SortFunc(p.updates, func(a, b Update) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Architecture, b.Architecture))
	})
	if len(notes) > maxNotes {
		notes = append(notes[:maxNotes], fmt.Sprintf("and %d more notes", len(notes)-maxNotes))
	}
	p.notes = notes
	return p, nil
}

// raiseCandidates reads apt's lists, raising each installed package's
// candidate (cands, by package name) to the best version they offer, and
// returns the lists read and notes on those skipped or partly read.
func (t *Toolset) raiseCandidates(ctx context.Context, native string, cands map[string][]*candidate) ([]List, []string, error) {
	lists, notes, err := findLists(t.lists)
	if err != nil {
		return nil, nil, err
	}
	problems := len(notes) // the notes so far are all unreadable Release files
	out := make([]List, 0, len(lists))
	for _, l := range lists {
		if err := ctx.Err(); err != nil {
			return nil, nil, fmt.Errorf("reading apt's lists: %w", err)
		}
		li := List{File: filepath.Base(l.Path)}
		if l.Release != nil {
			li.Origin, li.Label, li.Suite, li.Security = l.Release.Origin, l.Release.Label, l.Release.Suite, l.Release.security()
		}
		out = append(out, li)
		if !l.Release.automatic() {
			notes = append(notes, fmt.Sprintf("%s: its suite is NotAutomatic (as experimental or backports are): apt takes no candidates from it by default", li.File))
			continue
		}
		if err := t.scan(l, native, cands); err != nil {
			notes = append(notes, fmt.Sprintf("%s: %v; the updates it holds may be missing", li.File, err))
			problems++
		}
	}
	if problems > 0 {
		t.log.Warn("some of apt's files were skipped or partly read", "lists", t.lists, "notes", notes)
	}
	return out, notes, nil
}

// scan reads one list, raising the candidates of the installed packages
// it offers versions of.
func (t *Toolset) scan(l packageList, native string, cands map[string][]*candidate) error {
	r, err := openList(l.Path)
	if err != nil {
		return err
	}
	defer r.Close()
	sec, suite := l.Release.security(), ""
	if l.Release != nil {
		suite = l.Release.Suite
	}
	return scanList(r, func(name, rawVersion, rawArch []byte) error {
		cs := cands[string(name)]
		if len(cs) == 0 {
			return nil
		}
		version, arch := string(rawVersion), string(rawArch)
		for _, c := range cs {
			if !sameArch(arch, c.arch, native) {
				continue
			}
			d := 1
			if c.best != "" {
				d = Compare(version, c.best)
			}
			switch {
			case d > 0:
				c.best, c.security, c.suite = version, sec, suite
			case d == 0 && sec && !c.security:
				c.security, c.suite = true, suite
			}
		}
		return nil
	})
}

// sameArch reports whether a version for architecture arch can replace
// an installed package of architecture inst: "all" stands for the native
// architecture, as apt treats it.
func sameArch(arch, inst, native string) bool {
	if arch == "all" {
		arch = native
	}
	if inst == "all" {
		inst = native
	}
	return arch == inst
}
