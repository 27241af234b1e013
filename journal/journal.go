// SPDX-License-Identifier: Apache-2.0

// Package journal reads systemd journal files directly, from the format
// that systemd documents ("Journal File Format", systemd.io), without
// libsystemd: go-systemd's sdjournal loads libsystemd at run time, which a
// static binary cannot do.
//
// # What it reads
//
// Online (being written), offline and archived files (*.journal and
// *.journal~), regular and compact layout (32-bit offsets in entry items
// and entry arrays), keyed (siphash24) and unkeyed (Jenkins lookup3) hash
// tables, and DATA objects compressed with zstd, lz4 or xz. The TAG objects
// of sealed files are not verified (no list links them, so reading does
// not meet them; no sealed file has been tested).
//
// # Bounded
//
// Nothing is mapped and no file is loaded whole: objects are read with
// pread through a small cache of fixed size: a file's own when opened
// alone, one for all the files of a Journal however many they are. Every
// offset and size is checked against the file before it is used, a corrupt file yields a
// *FormatError naming the file and the offset, and field values are cut at
// Options.MaxFieldSize and entries at Options.MaxEntrySize (Entry.Truncated
// says so), compressed ones included.
//
// # Positions
//
// A Reader stands in a gap between two entries. Next returns the entry
// after the gap and moves past it; Prev returns the entry before the gap
// and moves before it. So Next then Prev returns the same entry twice.
// SeekHead, SeekTail, SeekRealtime and SeekCursor put the gap at the start,
// at the end, before the first entry at or after a time, or before the
// entry a cursor (journalctl's, Entry.Cursor) names.
//
// # Files and fields
//
// OpenDir merges every file of journald's directories (DefaultDirs) into
// one stream in journalctl's order. Values lists a field's distinct values
// and Journal.Boots the boots with their spans, from the files' indexes,
// without walking entries.
//
// # Files being written
//
// journald appends objects and then links them in. A Reader that reaches
// the end of a file reads its header again; if entries were added, it
// goes on with them. Links to objects not written yet (a zero in an entry
// array) end the list there instead of failing.
package journal

import (
	"encoding/hex"
	"errors"
	"fmt"
	"time"
)

// ErrCorrupt is wrapped by every *FormatError: the file breaks the format
// (a bad offset, size, type or link), or ends inside an object.
var ErrCorrupt = errors.New("corrupt journal file")

// ErrUnsupported is returned for a file that uses a feature this package
// does not know (an unknown incompatible flag, an unknown compression).
var ErrUnsupported = errors.New("unsupported journal file")

// FormatError says where a file breaks the format.
type FormatError struct {
	Path   string // the file
	Offset uint64 // where in it the bad object or field is
	Reason string
	Err    error // ErrCorrupt or ErrUnsupported
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("journal %s: offset %#x: %s", e.Path, e.Offset, e.Reason)
}

func (e *FormatError) Unwrap() error { return e.Err }

// ID is a 128-bit identifier: a boot, machine, file or seqnum ID.
type ID [16]byte

// String is the ID in journald's form, 32 lowercase hex digits.
func (id ID) String() string { return hex.EncodeToString(id[:]) }

// IsZero reports whether the ID is all zeros (unset).
func (id ID) IsZero() bool { return id == ID{} }

// ParseID parses 32 hex digits (journald's form) or a UUID with dashes.
func ParseID(s string) (ID, error) {
	var id ID
	clean := make([]byte, 0, 32)
	for i := 0; i < len(s); i++ {
		if s[i] != '-' {
			clean = append(clean, s[i])
		}
	}
	if len(clean) != 32 {
		return id, fmt.Errorf("parsing ID %q: want 32 hex digits", s)
	}
	if _, err := hex.Decode(id[:], clean); err != nil {
		return id, fmt.Errorf("parsing ID %q: %w", s, err)
	}
	return id, nil
}

// Field is one FIELD=value pair of an entry. A field name may occur more
// than once in an entry.
type Field struct {
	Name  string
	Value []byte
}

// Entry is one journal entry.
type Entry struct {
	Realtime  time.Time     // wall clock when it was logged
	Monotonic time.Duration // monotonic clock of BootID's boot
	BootID    ID
	Seqnum    uint64 // sequence number, unique among files with SeqnumID
	SeqnumID  ID
	Fields    []Field // in the order the file lists them
	// Truncated is set when a value was cut at Options.MaxFieldSize, a
	// field left out after Options.MaxEntrySize, or a compressed value
	// could not be decompressed within those bounds.
	Truncated bool
	// File is the path of the file the entry came from.
	File string

	offset  uint64
	xorHash uint64
}

// Get returns the first value of the field name.
func (e *Entry) Get(name string) ([]byte, bool) {
	for _, f := range e.Fields {
		if f.Name == name {
			return f.Value, true
		}
	}
	return nil, false
}

// String returns the first value of the field name as a string, or "".
func (e *Entry) String(name string) string {
	v, _ := e.Get(name)
	return string(v)
}

// Options bound what a reader holds in memory. The zero value is ready for
// use and means the defaults below; a nil *Options too.
type Options struct {
	// MaxFieldSize cuts each value (after decompression) at this many
	// bytes. 0 means 64 KiB.
	MaxFieldSize int
	// MaxEntrySize stops reading an entry's fields once what was read of
	// them (NAME=value, decompressed, of the fields kept and of those left
	// out) adds up to this many bytes; the last field kept is cut to fit.
	// 0 means 1 MiB.
	MaxEntrySize int
}

const (
	defaultMaxFieldSize = 64 << 10
	defaultMaxEntrySize = 1 << 20
)

func (o *Options) maxField() int {
	if o == nil || o.MaxFieldSize <= 0 {
		return defaultMaxFieldSize
	}
	return o.MaxFieldSize
}

func (o *Options) maxEntry() int {
	if o == nil || o.MaxEntrySize <= 0 {
		return defaultMaxEntrySize
	}
	return o.MaxEntrySize
}
