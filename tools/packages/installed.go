// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"cmp"
	"context"
	"path"
	"slices"
	"strings"

	"github.com/tailops/tailops/tools"
)

// ListArgs is list_installed_packages' input.
type ListArgs struct {
	Name    string `json:"name,omitempty" jsonschema_description:"a package name or a glob of one (* ? [...]), e.g. libssl* (default: all)"`
	Section string `json:"section,omitempty" jsonschema_description:"only packages of this section, e.g. admin, libs, net (a section of an area such as non-free/net matches too)"`
	Limit   *int   `json:"limit,omitempty" jsonschema_description:"most packages returned (default 200, at most 5000); matched counts them all"`
}

// ListResult is list_installed_packages' output.
type ListResult struct {
	Packages  []Package `json:"packages"`
	Matched   int       `json:"matched" jsonschema_description:"packages that matched the filters"`
	Truncated bool      `json:"truncated" jsonschema_description:"more packages matched than limit let through"`
}

// Package is one package of the dpkg database.
type Package struct {
	Name            string `json:"name"`
	Version         string `json:"version"`
	Architecture    string `json:"architecture"`
	Status          string `json:"status" jsonschema_description:"dpkg's want, error flag and state, e.g. install ok installed, deinstall ok config-files, hold ok installed"`
	InstalledSizeKB int64  `json:"installed_size_kib,omitempty" jsonschema_description:"Installed-Size, in KiB"`
	Source          string `json:"source" jsonschema_description:"the source package (with its version when it differs from the package's)"`
	Section         string `json:"section,omitempty"`
}

// maxPatternLen bounds a name pattern.
const maxPatternLen = 128

// patternChars are the characters of a name pattern: a package name's
// and the glob's.
const patternChars = "abcdefghijklmnopqrstuvwxyz0123456789+.-*?[]^!"

// listInstalled lists the packages of the status file that match in.
func (t *Toolset) listInstalled(ctx context.Context, in ListArgs) (ListResult, error) {
	limit, err := tools.IntArg("limit", in.Limit, 200, 1, 5000)
	if err != nil {
		return ListResult{}, err
	}
	if len(in.Name) > maxPatternLen {
		return ListResult{}, tools.ArgErrorf("name", "is %d bytes long, more than %d", len(in.Name), maxPatternLen)
	}
	if strings.Trim(in.Name, patternChars) != "" {
		return ListResult{}, tools.ArgErrorf("name", "a package name or glob holds only a-z, 0-9, '+', '-', '.' and the glob's * ? [ ] ^ !")
	}
	if _, err := path.Match(in.Name, ""); err != nil {
		return ListResult{}, tools.ArgErrorf("name", "not a valid glob: %v", err)
	}
	if len(in.Section) > maxPatternLen || strings.ContainsAny(in.Section, " \t\n") {
		return ListResult{}, tools.ArgErrorf("section", "a section is one word, such as admin or non-free/net")
	}
	res := ListResult{Packages: []Package{}}
	err = readStatus(t.status, func(p *installed) error {
		if in.Name != "" {
			if ok, _ := path.Match(in.Name, p.Name); !ok {
				return nil
			}
		}
		if in.Section != "" && p.Section != in.Section && !strings.HasSuffix(p.Section, "/"+in.Section) {
			return nil
		}
		res.Matched++
		out := Package{Name: p.Name, Version: p.Version, Architecture: p.Arch, Status: p.Status, Source: p.Name, Section: p.Section}
		if p.Size >= 0 {
			out.InstalledSizeKB = p.Size
		}
		if p.Source != "" {
			out.Source = p.Source
			if name, ver, ok := strings.Cut(p.Source, " ("); ok && Compare(strings.TrimSuffix(ver, ")"), p.Version) == 0 {
				out.Source = name
			}
		}
		res.Packages = append(res.Packages, out)
		return ctx.Err()
	})
	if err != nil {
		return ListResult{}, err
	}
	slices.SortFunc(res.Packages, func(a, b Package) int {
		return cmp.Or(strings.Compare(a.Name, b.Name), strings.Compare(a.Architecture, b.Architecture))
	})
	if len(res.Packages) > limit {
		res.Packages, res.Truncated = res.Packages[:limit], true
	}
	return res, nil
}
