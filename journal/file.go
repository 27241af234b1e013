// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"
)

// Header layout (journal-def.h): offsets of the fields this package uses.
const (
	hdrCompatFlags   = 8
	hdrIncompatFlags = 12
	hdrState         = 16
	hdrFileID        = 24
	hdrMachineID     = 40
	hdrTailBootID    = 56
	hdrSeqnumID      = 72
	hdrHeaderSize    = 88
	hdrArenaSize     = 96
	hdrDataHashOff   = 104
	hdrDataHashSize  = 112
	hdrFieldHashOff  = 120
	hdrFieldHashSize = 128
	hdrNEntries      = 152
	hdrTailSeqnum    = 160
	hdrHeadSeqnum    = 168
	hdrEntryArrayOff = 176
	hdrHeadRealtime  = 184
	hdrTailRealtime  = 192

	// headerSizeMin is the oldest header: every field up to n_data.
	headerSizeMin = 208
	// headerReadSize is the newest header (systemd 254); older and
	// newer ones are read the same, fields past header_size ignored.
	headerReadSize = 272
)

const signature = "LPKSHHRH"

// Incompatible flags.
const (
	incompatXZ        = 1 << 0
	incompatLZ4       = 1 << 1
	incompatKeyedHash = 1 << 2
	incompatZstd      = 1 << 3
	incompatCompact   = 1 << 4
	incompatKnown     = incompatXZ | incompatLZ4 | incompatKeyedHash | incompatZstd | incompatCompact
)

// Object types.
const (
	objData       = 1
	objField      = 2
	objEntry      = 3
	objDataHash   = 4
	objFieldHash  = 5
	objEntryArray = 6
)

var objNames = [...]string{"unused", "data", "field", "entry", "data hash table", "field hash table", "entry array", "tag"}

func objName(t uint8) string {
	if int(t) < len(objNames) {
		return objNames[t]
	}
	return fmt.Sprintf("unknown (%d)", t)
}

// Object flags: how a DATA payload is compressed.
const (
	objCompressedXZ   = 1 << 0
	objCompressedLZ4  = 1 << 1
	objCompressedZstd = 1 << 2
)

const (
	objHeaderSize        = 16
	dataFixedSize        = 64 // header + hash, next_hash, next_field, entry, entry_array, n_entries
	dataCompactExtra     = 8  // tail_entry_array_offset, tail_entry_array_n_entries
	entryFixedSize       = 64 // header + seqnum, realtime, monotonic, boot_id, xor_hash
	entryArrayFixedSize  = 24 // header + next_entry_array_offset
	maxEntryItems        = 1 << 14
	maxEntryArraysInList = 1 << 16
	maxHashChain         = 1 << 16
	// maxFieldName bounds the name read before a value is cut;
	// journald's own names are at most 64 bytes.
	maxFieldName = 256
)

// State is a file's state field.
type State uint8

// States from the format; a file is Online while journald writes it.
const (
	StateOffline  State = 0
	StateOnline   State = 1
	StateArchived State = 2
)

func (s State) String() string {
	switch s {
	case StateOffline:
		return "offline"
	case StateOnline:
		return "online"
	case StateArchived:
		return "archived"
	}
	return fmt.Sprintf("state(%d)", uint8(s))
}

// Info describes a file, from its header as last read.
type Info struct {
	Path         string
	FileID       ID
	MachineID    ID
	SeqnumID     ID
	TailBootID   ID
	State        State
	Compact      bool // 32-bit offsets in entry items and entry arrays
	KeyedHash    bool // siphash24 keyed by the file ID (else Jenkins lookup3)
	Entries      uint64
	HeadSeqnum   uint64
	TailSeqnum   uint64
	HeadRealtime time.Time // zero if the file has no entry
	TailRealtime time.Time
}

type header struct {
	compat, incompat  uint32
	state             uint8
	fileID, machineID ID
	tailBootID        ID
	seqnumID          ID
	headerSize        uint64
	arenaSize         uint64
	dataHashOff       uint64
	dataHashSize      uint64
	fieldHashOff      uint64
	fieldHashSize     uint64
	nEntries          uint64
	headSeqnum        uint64
	tailSeqnum        uint64
	entryArrayOff     uint64
	headRealtime      uint64
	tailRealtime      uint64
}

// File is one journal file, open for reading. It is not safe for
// concurrent use; open the file once per goroutine. The files of a
// Journal share its cache: use them from one goroutine at a time.
type File struct {
	path   string
	r      io.ReaderAt
	closer io.Closer
	statFn func() (int64, error)
	size   uint64 // the file's size when last looked at
	hdr    header
	opts   Options
	sh     *shared
	ownSh  bool // sh is the file's own, not a Journal's
}

// Open opens a journal file and checks its header. opts may be nil.
func Open(path string, opts *Options) (*File, error) {
	// O_NONBLOCK: opening a FIFO put where a journal was expected must
	// not wait for a writer; it changes nothing for a regular file.
	fh, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, fmt.Errorf("opening journal: %w", err)
	}
	if st, err := fh.Stat(); err != nil || !st.Mode().IsRegular() {
		fh.Close()
		if err == nil {
			err = fmt.Errorf("%s is not a regular file (%v)", path, st.Mode().Type())
		}
		return nil, fmt.Errorf("opening journal: %w", err)
	}
	stat := func() (int64, error) {
		st, err := fh.Stat()
		if err != nil {
			return 0, err
		}
		return st.Size(), nil
	}
	f, err := newFile(path, fh, stat, opts)
	if err != nil {
		fh.Close()
		return nil, err
	}
	f.closer = fh
	return f, nil
}

// newFile reads a journal from r; size reports r's current size (a file
// being written grows).
func newFile(path string, r io.ReaderAt, size func() (int64, error), opts *Options) (*File, error) {
	f := &File{path: path, r: r, statFn: size, sh: newShared(cachePages), ownSh: true}
	if opts != nil {
		f.opts = *opts
	}
	if err := f.refresh(); err != nil {
		return nil, err
	}
	return f, nil
}

// Close closes the file.
func (f *File) Close() error {
	f.sh.cache.drop(f)
	if f.ownSh {
		f.sh.dec.close()
	}
	if f.closer == nil {
		return nil
	}
	return f.closer.Close()
}

// Path is the file's path as given to Open.
func (f *File) Path() string { return f.path }

// Info describes the file from its header as last read.
func (f *File) Info() Info {
	h := &f.hdr
	in := Info{
		Path:       f.path,
		FileID:     h.fileID,
		MachineID:  h.machineID,
		SeqnumID:   h.seqnumID,
		TailBootID: h.tailBootID,
		State:      State(h.state),
		Compact:    f.compact(),
		KeyedHash:  h.incompat&incompatKeyedHash != 0,
		Entries:    h.nEntries,
		HeadSeqnum: h.headSeqnum,
		TailSeqnum: h.tailSeqnum,
	}
	if h.headRealtime != 0 {
		in.HeadRealtime = usecTime(h.headRealtime)
		in.TailRealtime = usecTime(h.tailRealtime)
	}
	return in
}

func usecTime(us uint64) time.Time {
	return time.Unix(int64(us/1e6), int64(us%1e6)*1e3)
}

func (f *File) compact() bool { return f.hdr.incompat&incompatCompact != 0 }

func (f *File) corrupt(off uint64, format string, args ...any) error {
	return &FormatError{Path: f.path, Offset: off, Reason: fmt.Sprintf(format, args...), Err: ErrCorrupt}
}

// refresh reads the header again and the file's size, and drops the cache:
// a writer changes links in objects already written.
func (f *File) refresh() error {
	sz, err := f.statFn()
	if err != nil {
		return fmt.Errorf("journal %s: reading size: %w", f.path, err)
	}
	f.size = uint64(sz)
	f.sh.cache.drop(f)
	if f.size < headerSizeMin {
		return f.corrupt(0, "file is %d bytes, shorter than a journal header (%d)", f.size, headerSizeMin)
	}
	var buf [headerReadSize]byte
	n, err := f.r.ReadAt(buf[:], 0)
	if n < headerSizeMin {
		if err == nil || err == io.EOF {
			return f.corrupt(0, "header cut short at %d bytes", n)
		}
		return fmt.Errorf("journal %s: reading header: %w", f.path, err)
	}
	b := buf[:]
	if string(b[:8]) != signature {
		return f.corrupt(0, "no journal signature (%q)", b[:8])
	}
	le := binary.LittleEndian
	h := header{
		compat:        le.Uint32(b[hdrCompatFlags:]),
		incompat:      le.Uint32(b[hdrIncompatFlags:]),
		state:         b[hdrState],
		headerSize:    le.Uint64(b[hdrHeaderSize:]),
		arenaSize:     le.Uint64(b[hdrArenaSize:]),
		dataHashOff:   le.Uint64(b[hdrDataHashOff:]),
		dataHashSize:  le.Uint64(b[hdrDataHashSize:]),
		fieldHashOff:  le.Uint64(b[hdrFieldHashOff:]),
		fieldHashSize: le.Uint64(b[hdrFieldHashSize:]),
		nEntries:      le.Uint64(b[hdrNEntries:]),
		tailSeqnum:    le.Uint64(b[hdrTailSeqnum:]),
		headSeqnum:    le.Uint64(b[hdrHeadSeqnum:]),
		entryArrayOff: le.Uint64(b[hdrEntryArrayOff:]),
		headRealtime:  le.Uint64(b[hdrHeadRealtime:]),
		tailRealtime:  le.Uint64(b[hdrTailRealtime:]),
	}
	copy(h.fileID[:], b[hdrFileID:])
	copy(h.machineID[:], b[hdrMachineID:])
	copy(h.tailBootID[:], b[hdrTailBootID:])
	copy(h.seqnumID[:], b[hdrSeqnumID:])
	if unknown := h.incompat &^ incompatKnown; unknown != 0 {
		return &FormatError{Path: f.path, Offset: hdrIncompatFlags,
			Reason: fmt.Sprintf("unknown incompatible flags %#x", unknown), Err: ErrUnsupported}
	}
	if h.headerSize < headerSizeMin || h.headerSize%8 != 0 || h.headerSize > f.size {
		return f.corrupt(hdrHeaderSize, "header size %d out of range (file is %d bytes)", h.headerSize, f.size)
	}
	if h.dataHashSize%16 != 0 || h.dataHashSize == 0 || h.dataHashOff < h.headerSize+objHeaderSize ||
		h.dataHashOff%8 != 0 || h.dataHashOff > f.size || h.dataHashSize > f.size-h.dataHashOff {
		return f.corrupt(hdrDataHashOff, "data hash table at %#x, %d bytes, not inside the file (%d bytes)",
			h.dataHashOff, h.dataHashSize, f.size)
	}
	f.hdr = h
	return nil
}

// grew looks at the file's size again; it reports whether the file now
// reaches end, for an object a writer appended after the last look.
func (f *File) grew(end uint64) bool {
	sz, err := f.statFn()
	if err != nil || uint64(sz) <= f.size {
		return false
	}
	f.size = uint64(sz)
	f.sh.cache.drop(f)
	return end <= f.size
}

// readAt returns n bytes at off. The slice may belong to the cache: use it
// before the next read.
func (f *File) readAt(off, n uint64) ([]byte, error) {
	if off > f.size || n > f.size-off {
		if off+n < off || !f.grew(off+n) {
			return nil, f.corrupt(off, "%d bytes wanted, past the end of the file (%d bytes)", n, f.size)
		}
	}
	if b, ok := f.sh.cache.get(f, off, n); ok {
		return b, nil
	}
	buf := make([]byte, n)
	if _, err := f.r.ReadAt(buf, int64(off)); err != nil {
		if err == io.EOF {
			return nil, f.corrupt(off, "file ends inside %d bytes wanted", n)
		}
		return nil, fmt.Errorf("journal %s: reading at %#x: %w", f.path, off, err)
	}
	return buf, nil
}

func (f *File) u64(off uint64) (uint64, error) {
	b, err := f.readAt(off, 8)
	if err != nil {
		return 0, err
	}
	return binary.LittleEndian.Uint64(b), nil
}

type objHeader struct {
	typ, flags uint8
	size       uint64
}

// object checks the object at off: aligned, inside the file, of type typ
// and at least minSize bytes.
func (f *File) object(off uint64, typ uint8, minSize uint64) (objHeader, error) {
	if off%8 != 0 || off < f.hdr.headerSize {
		return objHeader{}, f.corrupt(off, "%s object offset is not a valid object offset", objName(typ))
	}
	if (f.size < objHeaderSize || off > f.size-objHeaderSize) && !f.grew(off+objHeaderSize) {
		return objHeader{}, f.corrupt(off, "%s object offset past the end of the file (%d bytes)", objName(typ), f.size)
	}
	b, err := f.readAt(off, objHeaderSize)
	if err != nil {
		return objHeader{}, err
	}
	o := objHeader{typ: b[0], flags: b[1], size: binary.LittleEndian.Uint64(b[8:])}
	if o.typ != typ {
		return o, f.corrupt(off, "%s object expected, found %s", objName(typ), objName(o.typ))
	}
	if o.size < minSize {
		return o, f.corrupt(off, "%s object of %d bytes, smaller than its fixed part (%d)", objName(typ), o.size, minSize)
	}
	if o.size > f.size-off && !f.grew(off+o.size) {
		return o, f.corrupt(off, "%s object of %d bytes runs past the end of the file (%d bytes)", objName(typ), o.size, f.size)
	}
	return o, nil
}

// dataObj is the fixed part of a DATA object.
type dataObj struct {
	off           uint64
	flags         uint8
	size          uint64
	hash          uint64
	nextHash      uint64
	nextField     uint64
	entry         uint64
	entryArray    uint64
	nEntries      uint64
	payloadOffset uint64
}

func (f *File) data(off uint64) (dataObj, error) {
	fixed := uint64(dataFixedSize)
	if f.compact() {
		fixed += dataCompactExtra
	}
	o, err := f.object(off, objData, fixed)
	if err != nil {
		return dataObj{}, err
	}
	b, err := f.readAt(off+objHeaderSize, dataFixedSize-objHeaderSize)
	if err != nil {
		return dataObj{}, err
	}
	le := binary.LittleEndian
	return dataObj{
		off:           off,
		flags:         o.flags,
		size:          o.size,
		hash:          le.Uint64(b[0:]),
		nextHash:      le.Uint64(b[8:]),
		nextField:     le.Uint64(b[16:]),
		entry:         le.Uint64(b[24:]),
		entryArray:    le.Uint64(b[32:]),
		nEntries:      le.Uint64(b[40:]),
		payloadOffset: off + fixed,
	}, nil
}

// payload returns a DATA object's payload (FIELD=value), decompressed and
// cut at limit bytes; cut reports whether it was cut.
func (f *File) payload(d dataObj, limit int) (p []byte, cut bool, err error) {
	n := d.size - (d.payloadOffset - d.off)
	switch d.flags & (objCompressedXZ | objCompressedLZ4 | objCompressedZstd) {
	case 0:
		if n > uint64(limit) {
			n, cut = uint64(limit), true
		}
		b, err := f.readAt(d.payloadOffset, n)
		if err != nil {
			return nil, false, err
		}
		return bytes.Clone(b), cut, nil
	case objCompressedZstd, objCompressedXZ, objCompressedLZ4:
		if n > uint64(maxCompressedSize) {
			return nil, true, nil
		}
		return f.decompress(d, n, limit)
	}
	return nil, false, f.corrupt(d.off, "data object flags %#x name more than one compression", d.flags)
}

// entryHead is the fixed part of an ENTRY object.
type entryHead struct {
	off       uint64
	size      uint64
	seqnum    uint64
	realtime  uint64
	monotonic uint64
	bootID    ID
	xorHash   uint64
	seqnumID  ID
}

func (f *File) entryHead(off uint64) (entryHead, error) {
	o, err := f.object(off, objEntry, entryFixedSize)
	if err != nil {
		return entryHead{}, err
	}
	b, err := f.readAt(off+objHeaderSize, entryFixedSize-objHeaderSize)
	if err != nil {
		return entryHead{}, err
	}
	le := binary.LittleEndian
	e := entryHead{
		off:       off,
		size:      o.size,
		seqnum:    le.Uint64(b[0:]),
		realtime:  le.Uint64(b[8:]),
		monotonic: le.Uint64(b[16:]),
		xorHash:   le.Uint64(b[40:]),
		seqnumID:  f.hdr.seqnumID,
	}
	copy(e.bootID[:], b[24:40])
	return e, nil
}

// entry reads the fields of the entry h, within the Options' bounds.
func (f *File) entry(h entryHead) (*Entry, error) {
	e := &Entry{
		Realtime:  usecTime(h.realtime),
		Monotonic: time.Duration(h.monotonic) * time.Microsecond,
		BootID:    h.bootID,
		Seqnum:    h.seqnum,
		SeqnumID:  h.seqnumID,
		File:      f.path,
		offset:    h.off,
		xorHash:   h.xorHash,
	}
	itemSize := uint64(16)
	if f.compact() {
		itemSize = 4
	}
	nItems := (h.size - entryFixedSize) / itemSize
	if nItems > maxEntryItems {
		nItems, e.Truncated = maxEntryItems, true
	}
	maxField, budget := f.opts.maxField(), f.opts.maxEntry()
	offs := f.sh.itemBuf[:0]
	// Read the item offsets first: reading the data objects goes through
	// the cache and would reuse the slice readAt returns.
	const chunk = 512
	for i := uint64(0); i < nItems; i += chunk {
		k := min(chunk, nItems-i)
		b, err := f.readAt(h.off+entryFixedSize+i*itemSize, k*itemSize)
		if err != nil {
			return nil, err
		}
		for j := uint64(0); j < k; j++ {
			if itemSize == 4 {
				offs = append(offs, uint64(binary.LittleEndian.Uint32(b[j*4:])))
			} else {
				offs = append(offs, binary.LittleEndian.Uint64(b[j*16:]))
			}
		}
	}
	f.sh.itemBuf = offs[:0]
	// An item naming a DATA object the entry named before is skipped: it
	// would only decode it again. journald writes the items sorted by
	// offset, each once, which needs no map to check.
	var seen map[uint64]bool
	for i := 1; i < len(offs); i++ {
		if offs[i] <= offs[i-1] {
			seen = make(map[uint64]bool, len(offs))
			break
		}
	}
	for _, off := range offs {
		if budget <= 0 {
			e.Truncated = true
			break
		}
		if seen != nil {
			if seen[off] {
				continue
			}
			seen[off] = true
		}
		d, err := f.data(off)
		if err != nil {
			return nil, err
		}
		p, cut, err := f.payload(d, min(maxField, budget)+maxFieldName+1)
		if err != nil {
			return nil, err
		}
		// What was read counts, kept or not: an item the entry leaves out
		// cost its decoding all the same.
		left := budget
		budget -= len(p)
		name, value, ok := bytes.Cut(p, []byte("="))
		if !ok {
			if cut {
				e.Truncated = true
				continue
			}
			return nil, f.corrupt(off, "data object payload has no '='")
		}
		if len(value) > maxField {
			value, cut = value[:maxField], true
		}
		if keep := left - len(name) - 1; len(value) > keep { // NAME=value fits what is left
			if keep <= 0 {
				e.Truncated = true
				continue
			}
			value, cut = value[:keep], true
		}
		e.Truncated = e.Truncated || cut
		e.Fields = append(e.Fields, Field{Name: string(name), Value: value})
	}
	return e, nil
}

// findData looks up the DATA object whose payload is p (FIELD=value)
// through the data hash table; ok is false if the file has none.
func (f *File) findData(p []byte) (d dataObj, ok bool, err error) {
	h := f.hash(p)
	buckets := f.hdr.dataHashSize / 16
	off, err := f.u64(f.hdr.dataHashOff + (h%buckets)*16)
	if err != nil {
		return d, false, err
	}
	for steps := 0; off != 0; steps++ {
		if steps >= maxHashChain {
			return d, false, f.corrupt(off, "data hash chain longer than %d", maxHashChain)
		}
		d, err = f.data(off)
		if err != nil {
			return d, false, err
		}
		if d.hash == h {
			got, _, err := f.payload(d, len(p)+1)
			if err != nil {
				return d, false, err
			}
			if bytes.Equal(got, p) {
				return d, true, nil
			}
		}
		if d.nextHash != 0 && d.nextHash <= off {
			return d, false, f.corrupt(off, "data hash chain points backwards (to %#x)", d.nextHash)
		}
		off = d.nextHash
	}
	return d, false, nil
}
