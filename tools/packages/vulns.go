// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/tailops/tailops/tools"
)

// VulnArgs is check_vulnerabilities' input.
type VulnArgs struct {
	Package    string `json:"package,omitempty" jsonschema_description:"only this package: a source package name, or an installed binary package's (default: all installed)"`
	MinUrgency string `json:"min_urgency,omitempty" jsonschema:"enum=unimportant,enum=low,enum=medium,enum=high" jsonschema_description:"only issues at least this urgent; issues the tracker has not triaged (not yet assigned) always pass"`
	FixedOnly  bool   `json:"fixed_only,omitempty" jsonschema_description:"only issues with a fixed version in the host's release (that an upgrade can fix)"`
	Refresh    bool   `json:"refresh,omitempty" jsonschema_description:"read the data again even if the copy in memory is recent (a URL's at most every 5 minutes)"`
	Limit      *int   `json:"limit,omitempty" jsonschema_description:"most issues returned (default 200, at most 2000); affected counts them all"`
}

// VulnResult is check_vulnerabilities' output.
type VulnResult struct {
	Vulnerabilities []Vulnerability `json:"vulnerabilities"`
	// Affected counts the matching issues, ByUrgency them by urgency.
	Affected  int            `json:"affected" jsonschema_description:"issues affecting the installed versions that matched the filters"`
	ByUrgency map[string]int `json:"by_urgency" jsonschema_description:"affected, counted by urgency"`
	Truncated bool           `json:"truncated" jsonschema_description:"more issues matched than limit let through"`
	Release   string         `json:"release" jsonschema_description:"the release codename the data was read for"`
	Source    string         `json:"source" jsonschema_description:"where the data came from: a URL or a file"`
	FetchedAt string         `json:"fetched_at" jsonschema_description:"when the data was read (RFC 3339)"`
	AgeSec    int64          `json:"age_seconds" jsonschema_description:"how old the copy in memory is"`
	Checked   int            `json:"source_packages_checked" jsonschema_description:"installed source packages compared"`
	Notes     []string       `json:"notes,omitempty"`
}

// Vulnerability is one issue affecting an installed source package.
type Vulnerability struct {
	CVE         string   `json:"cve"`
	Package     string   `json:"package" jsonschema_description:"the source package (the tracker's key)"`
	Binaries    []string `json:"binaries" jsonschema_description:"the installed binary packages built from it"`
	Installed   string   `json:"installed" jsonschema_description:"the installed source version"`
	Fixed       string   `json:"fixed_version,omitempty" jsonschema_description:"the first fixed version in the release; absent when unfixed"`
	Status      string   `json:"status" jsonschema_description:"the tracker's status in the release: resolved, open or undetermined"`
	Urgency     string   `json:"urgency"`
	NoDSA       string   `json:"no_dsa,omitempty" jsonschema_description:"why no security advisory will be issued, when the tracker says"`
	Scope       string   `json:"scope,omitempty" jsonschema_description:"local or remote, when the tracker knows"`
	Description string   `json:"description,omitempty"`
	Candidate   string   `json:"candidate,omitempty" jsonschema_description:"the newest version apt's lists offer for the binaries, when newer than installed"`
	UpdateAvail bool     `json:"update_available" jsonschema_description:"apt's lists offer a newer version of the binaries"`
	UpdateFixes bool     `json:"update_fixes" jsonschema_description:"that newer version is at least the fixed version"`
}

// urgencyRank orders the tracker's urgencies; an unknown one (not yet
// assigned, end-of-life) ranks above all, so that no filter hides it.
func urgencyRank(u string) int {
	switch u {
	case "unimportant":
		return 0
	case "low":
		return 1
	case "medium":
		return 2
	case "high":
		return 3
	}
	return 4
}

// sortRank orders issues for the result, most urgent first: an untriaged
// one (not yet assigned) between medium and low.
func sortRank(u string) int {
	if r := urgencyRank(u); r < 4 {
		return r * 2
	}
	return 3
}

// source is an installed source package.
type source struct {
	version  string
	binaries []string
	// cands are the binaries' candidates, for update_available.
	cands []*candidate
}

// installedSources returns the installed packages by source package,
// with their binaries' candidates, and the dpkg native architecture.
func (t *Toolset) installedSources() (map[string]*source, map[string][]*candidate, string, error) {
	srcs := map[string]*source{}
	cands := map[string][]*candidate{}
	native := ""
	err := readStatus(t.status, func(p *installed) error {
		if p.Name == "dpkg" {
			native = p.Arch
		}
		if p.state() != "installed" {
			return nil
		}
		name, ver := sourceOf(p)
		s := srcs[name]
		if s == nil {
			s = &source{version: ver}
			srcs[name] = s
		} else if Compare(ver, s.version) < 0 {
			s.version = ver // several versions installed (multi-arch skew): the oldest is the one at risk
		}
		c := &candidate{arch: p.Arch, current: p.Version, held: p.held()}
		cands[p.Name] = append(cands[p.Name], c)
		s.cands = append(s.cands, c)
		if !slices.Contains(s.binaries, p.Name) {
			s.binaries = append(s.binaries, p.Name)
		}
		return nil
	})
	return srcs, cands, cmp.Or(native, nativeArch()), err
}

// sourceOf returns a package's source package and source version: its
// Source field ("name" or "name (version)"), else its own name and
// version, as dpkg defaults them.
func sourceOf(p *installed) (name, version string) {
	if p.Source == "" {
		return p.Name, p.Version
	}
	name, ver, ok := strings.Cut(p.Source, " (")
	if !ok {
		return strings.TrimSpace(p.Source), p.Version
	}
	return strings.TrimSpace(name), strings.TrimSuffix(strings.TrimSpace(ver), ")")
}

// affects reports whether the entry affects installed source version v:
// an open or undetermined issue, or one fixed in a later version. A
// fixed version of "0" means the release was never affected.
func affects(e trackerEntry, v string) bool {
	switch e.Fixed {
	case "0":
		return false
	case "", "<unfixed>":
		return e.Status != "resolved" || e.Fixed == "<unfixed>"
	}
	return Compare(v, e.Fixed) < 0
}

// checkVulnerabilities lists the tracker's issues affecting the
// installed packages.
func (t *Toolset) checkVulnerabilities(ctx context.Context, in VulnArgs) (VulnResult, error) {
	limit, err := tools.IntArg("limit", in.Limit, 200, 1, 2000)
	if err != nil {
		return VulnResult{}, err
	}
	if in.Package != "" {
		if err := ValidName(in.Package); err != nil {
			return VulnResult{}, tools.ArgErrorf("package", "%v", err)
		}
	}
	minRank := 0
	if in.MinUrgency != "" {
		if minRank = urgencyRank(in.MinUrgency); minRank > 3 {
			return VulnResult{}, tools.ArgErrorf("min_urgency", "want unimportant, low, medium or high")
		}
	}
	release := t.release
	if release == "" {
		if release, err = readCodename(t.osRelease); err != nil {
			return VulnResult{}, err
		}
	}
	srcs, cands, native, err := t.installedSources()
	if err != nil {
		return VulnResult{}, err
	}
	want := make(map[string]bool, len(srcs))
	for name := range srcs {
		want[name] = true
	}
	data, at, err := t.vulnCache.get(ctx, t.vulnSrc, release, want, t.vulnMaxAge, in.Refresh, t.log)
	if err != nil {
		return VulnResult{}, err
	}
	res := VulnResult{Vulnerabilities: []Vulnerability{}, ByUrgency: map[string]int{}, Release: release, Source: t.vulnSrc.String(),
		FetchedAt: at.UTC().Format(time.RFC3339), AgeSec: int64(time.Since(at).Seconds()), Checked: len(srcs)}
	if data.Sources == 0 {
		res.Notes = append(res.Notes, "the vulnerability data holds no packages")
	}
	_, listNotes, err := t.raiseCandidates(ctx, native, cands)
	if err != nil {
		res.Notes = append(res.Notes, fmt.Sprintf("update_available is unknown: %v", err))
	}
	res.Notes = append(res.Notes, listNotes...)
	for name, s := range srcs {
		if in.Package != "" && name != in.Package && !slices.Contains(s.binaries, in.Package) {
			continue
		}
		best := ""
		for _, c := range s.cands {
			if c.best != "" && Compare(c.best, c.current) > 0 && (best == "" || Compare(c.best, best) < 0) {
				best = c.best // the least of the binaries' upgrades: what every binary reaches
			}
		}
		for _, e := range data.Packages[name] {
			if !affects(e, s.version) || in.FixedOnly && (e.Fixed == "" || e.Fixed == "<unfixed>") || urgencyRank(e.Urgency) < minRank {
				continue
			}
			res.Affected++
			res.ByUrgency[cmp.Or(e.Urgency, "unknown")]++
			v := Vulnerability{CVE: e.CVE, Package: name, Binaries: clipList(s.binaries, 20), Installed: s.version, Status: e.Status,
				Urgency: e.Urgency, NoDSA: e.NoDSA, Scope: e.Scope, Description: e.Description, Candidate: best, UpdateAvail: best != ""}
			if e.Fixed != "<unfixed>" {
				v.Fixed = e.Fixed
			}
			v.UpdateFixes = best != "" && v.Fixed != "" && Compare(best, v.Fixed) >= 0
			res.Vulnerabilities = append(res.Vulnerabilities, v)
		}
	}
	slices.SortFunc(res.Vulnerabilities, func(a, b Vulnerability) int {
		return cmp.Or(sortRank(b.Urgency)-sortRank(a.Urgency), strings.Compare(a.Package, b.Package), strings.Compare(b.CVE, a.CVE))
	})
	if len(res.Vulnerabilities) > limit {
		res.Vulnerabilities, res.Truncated = res.Vulnerabilities[:limit], true
	}
	if len(res.Notes) > maxNotes {
		res.Notes = append(res.Notes[:maxNotes], fmt.Sprintf("and %d more notes", len(res.Notes)-maxNotes))
	}
	return res, nil
}

// clipList returns at most n of l, sorted.
func clipList(l []string, n int) []string {
	l = slices.Sorted(slices.Values(l))
	if len(l) > n {
		l = l[:n]
	}
	return l
}
