// SPDX-License-Identifier: Apache-2.0

package files

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode"

	"golang.org/x/sys/unix"

	"github.com/tailops/tailops/tools"
)

type listDirectoryArgs struct {
	Path          string `json:"path" jsonschema_description:"Directory to list: absolute (inside a file root) or relative to the first root."`
	Limit         *int   `json:"limit,omitempty" jsonschema_description:"Most entries to return, 1 to 10000; default 1000."`
	IncludeHidden *bool  `json:"include_hidden,omitempty" jsonschema_description:"Include entries whose names start with a dot; default true."`
	Details       bool   `json:"details,omitempty" jsonschema_description:"Also give each entry's size, permission bits and modification time (one stat per entry); default false: names and types only."`
}

type dirEntry struct {
	Name   string `json:"name" jsonschema_description:"Entry name."`
	Type   string `json:"type" jsonschema:"enum=file,enum=dir,enum=symlink,enum=other" jsonschema_description:"Entry type; symlinks are not followed."`
	Size   *int64 `json:"size,omitempty" jsonschema_description:"Size in bytes (with details)."`
	Mode   string `json:"mode,omitempty" jsonschema_description:"Permission bits in octal (with details)."`
	MTime  string `json:"mtime,omitempty" jsonschema_description:"Modification time, RFC 3339, UTC (with details)."`
	Denied bool   `json:"denied,omitempty" jsonschema_description:"The deny-list hides this entry's contents."`
}

type listDirectoryResult struct {
	Path      string     `json:"path" jsonschema_description:"The directory, as given."`
	Entries   []dirEntry `json:"entries" jsonschema_description:"Entries sorted by name."`
	Total     int        `json:"total" jsonschema_description:"Entries the directory holds (after the hidden filter), up to 100000."`
	Truncated bool       `json:"truncated" jsonschema_description:"Not every entry was returned."`
}

func (fs *fileSystem) listDirectorySpec() tools.Spec {
	return fileTool(fs, "list_directory", "List directory",
		"List a directory inside the file roots: the name and type of each entry, sorted by name; with details, also size, permission bits and modification time. Symlinks are shown, not followed.",
		tools.RiskModerate, fs.listDirectory, renderListing)
}

func (fs *fileSystem) listDirectory(_ context.Context, a *listDirectoryArgs) (*listDirectoryResult, error) {
	limit, err := tools.IntArg("limit", a.Limit, listDefaultLimit, 1, listMaxLimit)
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

	ents, complete, err := readEntries(dir, listMaxScan)
	if err != nil {
		return nil, readFailed(a.Path, "cannot read directory", err)
	}
	if !hidden {
		ents = slices.DeleteFunc(ents, func(e rawEntry) bool { return strings.HasPrefix(e.name, ".") })
	}
	order := nameOrder(ents)
	res := &listDirectoryResult{Path: a.Path, Total: len(ents), Entries: make([]dirEntry, 0, min(len(ents), limit))}
	res.Truncated = !complete || len(ents) > limit
	protected := fs.protectedEntries()
	for _, i := range order[:min(len(ents), limit)] {
		e := ents[i]
		out, ok := describeEntry(dir, e, a.Details)
		if !ok {
			continue // gone since it was listed
		}
		out.Denied = fs.childDenied(dir, e.name) || protected(uint64(dir.st.Dev), e.ino)
		res.Entries = append(res.Entries, out)
	}
	return res, nil
}

// nameOrder returns the indices of ents in the order of their names
// (strings.Compare's). Names in one directory tend to share a start
// (file-00001.log, file-00002.log...), which comparing names from their
// first byte goes over again and again: sorting 10,000 of them that way
// was a tenth of the server's time listing them. So each name gets a
// key: the 5 bytes that follow the start all the names share, NUL-padded
// (a name holds no NUL), above its index in the low 24 bits. The keys
// sort as plain integers, with no comparison function and nothing for
// the GC to follow; only names whose 5 bytes are the same, left in index
// order, are then compared as strings.
func nameOrder(ents []rawEntry) []int32 {
	shared := ""
	if len(ents) > 0 {
		shared = ents[0].name
	}
	for _, e := range ents {
		n := 0
		for n < len(shared) && n < len(e.name) && shared[n] == e.name[n] {
			n++
		}
		shared = shared[:n]
	}
	skip := len(shared)
	const idxBits = 24
	keys := make([]uint64, len(ents))
	for i, e := range ents {
		var b [8]byte
		copy(b[:8-idxBits/8], e.name[skip:])
		keys[i] = binary.BigEndian.Uint64(b[:]) | uint64(i)
	}
	slices.Sort(keys)
	order := make([]int32, len(keys))
	for j, k := range keys {
		order[j] = int32(k & (1<<idxBits - 1))
	}
	for start := 0; start < len(keys); {
		end := start + 1
		for end < len(keys) && keys[end]>>idxBits == keys[start]>>idxBits {
			end++
		}
		if end-start > 1 {
			slices.SortFunc(order[start:end], func(x, y int32) int {
				return strings.Compare(ents[x].name[skip:], ents[y].name[skip:])
			})
		}
		start = end
	}
	return order
}

// The indices must fit below nameOrder's keys.
const _ uint = 1<<24 - listMaxScan

// describeEntry turns what getdents gave into a listing entry. It stats
// the entry (without following a symlink) when details are asked for, or
// when the file system did not give its type (DT_UNKNOWN); ok is false
// when the entry is gone.
func describeEntry(dir *node, e rawEntry, details bool) (out dirEntry, ok bool) {
	out.Name = e.name
	mode := e.mode
	if details || mode == 0 {
		var st unix.Stat_t
		if err := unix.Fstatat(dir.fd, e.name, &st, unix.AT_SYMLINK_NOFOLLOW); err != nil {
			return out, false
		}
		mode = st.Mode
		if details {
			size := st.Size
			out.Size, out.Mode, out.MTime = &size, modeString(st.Mode), mtimeString(&st)
		}
	}
	out.Type = fileType(mode)
	return out, true
}

// renderListing is a header line, then one line per entry: its type
// (file, dir, symlink, other), with details its mode, size and
// modification time, then its name, quoted Go-style when it holds a
// control character or starts or ends with a space, so that every name
// stays on one line and reads back exactly.
func renderListing(r *listDirectoryResult) string {
	var b strings.Builder
	b.Grow(64 + len(r.Entries)*32)
	fmt.Fprintf(&b, "%s: %d entries", r.Path, r.Total)
	if r.Truncated {
		fmt.Fprintf(&b, " (showing %d, truncated)", len(r.Entries))
	}
	b.WriteByte('\n')
	var sizeBuf [20]byte
	for _, e := range r.Entries {
		b.WriteString(e.Type)
		b.WriteString("       "[min(len(e.Type), 7):])
		if e.Size != nil {
			// " %s %12d %s ", without fmt: this runs once per entry.
			b.WriteByte(' ')
			b.WriteString(e.Mode)
			b.WriteByte(' ')
			size := strconv.AppendInt(sizeBuf[:0], *e.Size, 10)
			b.WriteString("            "[min(len(size), 12):])
			b.Write(size)
			b.WriteByte(' ')
			b.WriteString(e.MTime)
			b.WriteByte(' ')
		}
		b.WriteByte(' ')
		b.WriteString(listingName(e.Name))
		if e.Denied {
			b.WriteString("  [denied]")
		}
		b.WriteByte('\n')
	}
	return b.String()
}

// listingName is name as the text listing shows it: as is, or quoted when
// it holds a control character (a newline would start a fake entry) or
// starts or ends with a space. Printable ASCII names, nearly all of them,
// are decided byte by byte; others go through the Unicode tables.
func listingName(name string) string {
	quote := false
	for i := 0; i < len(name); i++ {
		if c := name[i]; c < ' ' || c > '~' {
			quote = strings.TrimSpace(name) != name || strings.ContainsFunc(name, unicode.IsControl)
			break
		}
	}
	if quote || name != "" && (name[0] == ' ' || name[len(name)-1] == ' ') {
		return strconv.Quote(name)
	}
	return name
}
