// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"bytes"
	"encoding/binary"
	"slices"
	"time"
)

const fieldFixedSize = 40 // header + hash, next_hash_offset, head_data_offset

// Values returns the distinct values the field takes in the file (as
// journalctl -F does), at most max of them (more reports that there were
// more), each cut at Options.MaxFieldSize.
func (f *File) Values(field string, max int) (values [][]byte, more bool, err error) {
	head, ok, err := f.findField([]byte(field))
	if err != nil || !ok {
		return nil, false, err
	}
	prefix := []byte(field + "=")
	limit := f.opts.maxField() + len(prefix)
	// journald puts each new DATA object at the head of its field's
	// list, so offsets go down along it.
	for off, steps := head, 0; off != 0; steps++ {
		if len(values) >= max {
			return values, true, nil
		}
		if steps >= maxHashChain*16 {
			return values, false, f.corrupt(off, "list of %s values longer than %d", field, maxHashChain*16)
		}
		d, err := f.data(off)
		if err != nil {
			return values, false, err
		}
		p, _, err := f.payload(d, limit)
		if err != nil {
			return values, false, err
		}
		if !bytes.HasPrefix(p, prefix) {
			return values, false, f.corrupt(off, "data object in the list of %s values holds another field", field)
		}
		if d.nEntries > 0 {
			values = append(values, p[len(prefix):])
		}
		if d.nextField != 0 && d.nextField >= off {
			return values, false, f.corrupt(off, "list of %s values points forwards (to %#x)", field, d.nextField)
		}
		off = d.nextField
	}
	return values, false, nil
}

// findField looks up the FIELD object named name in the field hash table
// and returns the head of its list of DATA objects.
func (f *File) findField(name []byte) (head uint64, ok bool, err error) {
	h := &f.hdr
	if h.fieldHashSize < 16 || h.fieldHashSize%16 != 0 || h.fieldHashOff%8 != 0 ||
		h.fieldHashOff > f.size || h.fieldHashSize > f.size-h.fieldHashOff {
		return 0, false, f.corrupt(hdrFieldHashOff, "field hash table at %#x, %d bytes, not inside the file (%d bytes)",
			h.fieldHashOff, h.fieldHashSize, f.size)
	}
	hash := f.hash(name)
	off, err := f.u64(h.fieldHashOff + (hash%(h.fieldHashSize/16))*16)
	if err != nil {
		return 0, false, err
	}
	for steps := 0; off != 0; steps++ {
		if steps >= maxHashChain {
			return 0, false, f.corrupt(off, "field hash chain longer than %d", maxHashChain)
		}
		o, err := f.object(off, objField, fieldFixedSize)
		if err != nil {
			return 0, false, err
		}
		b, err := f.readAt(off+objHeaderSize, fieldFixedSize-objHeaderSize)
		if err != nil {
			return 0, false, err
		}
		le := binary.LittleEndian
		fhash, next, head := le.Uint64(b[0:]), le.Uint64(b[8:]), le.Uint64(b[16:])
		if fhash == hash && o.size-fieldFixedSize == uint64(len(name)) {
			p, err := f.readAt(off+fieldFixedSize, uint64(len(name)))
			if err != nil {
				return 0, false, err
			}
			if bytes.Equal(p, name) {
				return head, true, nil
			}
		}
		if next != 0 && next <= off {
			return 0, false, f.corrupt(off, "field hash chain points backwards (to %#x)", next)
		}
		off = next
	}
	return 0, false, nil
}

// Values returns the distinct values the field takes in all files, at
// most max of them (more reports that there were more). An error from one
// file is returned with the values found in the others.
func (j *Journal) Values(field string, max int) (values [][]byte, more bool, err error) {
	seen := map[string]bool{}
	for _, f := range j.files {
		vs, m, ferr := f.Values(field, max)
		if ferr != nil && err == nil {
			err = ferr
		}
		more = more || m
		for _, v := range vs {
			if seen[string(v)] {
				continue
			}
			if len(values) >= max {
				return values, true, err
			}
			seen[string(v)] = true
			values = append(values, v)
		}
	}
	return values, more, err
}

// Boot is one boot's span in the journal.
type Boot struct {
	ID          ID
	First, Last time.Time // wall clock of its first and last entry
}

// Boots returns the boots the files hold entries of, oldest first (as
// journalctl --list-boots does; the last is the newest), at most max of
// them: the newest max. An error from one file is returned with the boots
// found in the others.
func (j *Journal) Boots(max int) ([]Boot, error) {
	byID := map[ID]*Boot{}
	var err error
	for _, f := range j.files {
		if ferr := f.boots(byID); ferr != nil && err == nil {
			err = ferr
		}
	}
	boots := make([]Boot, 0, len(byID))
	for _, b := range byID {
		boots = append(boots, *b)
	}
	slices.SortFunc(boots, func(a, b Boot) int {
		if c := a.First.Compare(b.First); c != 0 {
			return c
		}
		return bytes.Compare(a.ID[:], b.ID[:])
	})
	if len(boots) > max {
		boots = boots[len(boots)-max:]
	}
	return boots, err
}

// maxBootsPerFile bounds how many boots one file may claim.
const maxBootsPerFile = 1 << 12

// boots adds the file's boots to byID, widening the spans already there.
func (f *File) boots(byID map[ID]*Boot) error {
	vs, _, err := f.Values("_BOOT_ID", maxBootsPerFile)
	if err != nil {
		return err
	}
	for _, v := range vs {
		id, err := ParseID(string(v))
		if err != nil {
			continue // not journald's: a boot ID is 32 hex digits
		}
		d, ok, err := f.findData(append([]byte("_BOOT_ID="), v...))
		if err != nil {
			return err
		}
		if !ok || d.nEntries == 0 || d.entry == 0 {
			continue
		}
		l, err := f.newList(d.entry, d.entryArray, d.nEntries-1)
		if err != nil {
			return err
		}
		first, err := f.entryHead(d.entry)
		if err != nil {
			return err
		}
		lastOff, err := l.at(l.len() - 1)
		if err != nil {
			return err
		}
		last, err := f.entryHead(lastOff)
		if err != nil {
			return err
		}
		b := byID[id]
		if b == nil {
			b = &Boot{ID: id, First: usecTime(first.realtime), Last: usecTime(last.realtime)}
			byID[id] = b
		}
		if t := usecTime(first.realtime); t.Before(b.First) {
			b.First = t
		}
		if t := usecTime(last.realtime); t.After(b.Last) {
			b.Last = t
		}
	}
	return nil
}
