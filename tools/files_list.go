// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

type listDirectoryArgs struct {
	Path          string `json:"path" jsonschema_description:"Directory to list: absolute (inside a file root) or relative to the first root."`
	Limit         *int   `json:"limit,omitempty" jsonschema_description:"Most entries to return, 1 to 10000; default 1000."`
	IncludeHidden *bool  `json:"include_hidden,omitempty" jsonschema_description:"Include entries whose names start with a dot; default true."`
}

type dirEntry struct {
	Name   string `json:"name" jsonschema_description:"Entry name."`
	Type   string `json:"type" jsonschema:"enum=file,enum=dir,enum=symlink,enum=other" jsonschema_description:"Entry type; symlinks are not followed."`
	Size   int64  `json:"size" jsonschema_description:"Size in bytes."`
	Mode   string `json:"mode" jsonschema_description:"Permission bits in octal."`
	MTime  string `json:"mtime" jsonschema_description:"Modification time, RFC 3339, UTC."`
	Denied bool   `json:"denied,omitempty" jsonschema_description:"The deny-list hides this entry's contents."`
}

type listDirectoryResult struct {
	Path      string     `json:"path" jsonschema_description:"The directory, as given."`
	Entries   []dirEntry `json:"entries" jsonschema_description:"Entries sorted by name."`
	Total     int        `json:"total" jsonschema_description:"Entries the directory holds (after the hidden filter), up to 100000."`
	Truncated bool       `json:"truncated" jsonschema_description:"Not every entry was returned."`
}

func (fs *fileSystem) listDirectorySpec() Spec {
	return fileTool(fs, "list_directory", "List directory",
		"List a directory inside the file roots: name, type, size, mode and modification time of each entry, sorted by name. Symlinks are shown, not followed.",
		RiskModerate, fs.listDirectory, renderListing)
}

func (fs *fileSystem) listDirectory(_ context.Context, a *listDirectoryArgs) (*listDirectoryResult, error) {
	limit, err := intArg("limit", a.Limit, listDefaultLimit, 1, listMaxLimit)
	if err != nil {
		return nil, err
	}
	hidden := a.IncludeHidden == nil || *a.IncludeHidden
	if err := checkPathArg(a.Path); err != nil {
		return nil, err
	}
	dir, err := fs.open(a.Path, openDir)
	if err != nil {
		return nil, err
	}
	defer dir.close()

	names, complete, err := readNames(dir, listMaxScan)
	if err != nil {
		return nil, badPath(a.Path, "cannot read directory")
	}
	if !hidden {
		names = slices.DeleteFunc(names, func(n string) bool { return strings.HasPrefix(n, ".") })
	}
	slices.Sort(names)
	res := &listDirectoryResult{Path: a.Path, Total: len(names), Entries: make([]dirEntry, 0, min(len(names), limit))}
	res.Truncated = !complete || len(names) > limit
	for _, name := range names[:min(len(names), limit)] {
		var st unix.Stat_t
		if err := unix.Fstatat(dir.fd, name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			continue // gone since it was listed
		}
		res.Entries = append(res.Entries, dirEntry{
			Name:   name,
			Type:   fileType(st.Mode),
			Size:   st.Size,
			Mode:   modeString(st.Mode),
			MTime:  mtimeString(&st),
			Denied: fs.childDenied(dir, name),
		})
	}
	return res, nil
}

func renderListing(r *listDirectoryResult) string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: %d entries", r.Path, r.Total)
	if r.Truncated {
		fmt.Fprintf(&b, " (showing %d, truncated)", len(r.Entries))
	}
	b.WriteByte('\n')
	for _, e := range r.Entries {
		name := e.Name
		if e.Type == "dir" {
			name += "/"
		}
		if e.Denied {
			name += "  [denied]"
		}
		fmt.Fprintf(&b, "%-7s %s %12d %s  %s\n", e.Type, e.Mode, e.Size, e.MTime, name)
	}
	return b.String()
}
