// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"encoding/binary"
	"sort"
)

// offList is a sorted list of entry offsets: the file's list of all
// entries (a chain of entry arrays from the header), or the entries of one
// DATA object (one offset stored in it, then its chain of entry arrays).
type offList struct {
	f      *File
	inline uint64      // an offset before the arrays' (a DATA object's first entry), or 0
	arrays []arrayDesc // the chain, in order
	n      int         // offsets in the arrays
	hint   int         // the index the last seek found, where the next starts
}

type arrayDesc struct {
	off   uint64 // the ENTRY_ARRAY object
	first int    // index in the list (not counting inline) of its first item
	n     int    // items used
}

// newList walks the chain of entry arrays from chain, taking n offsets
// (the count the file keeps); arrays hold more items than are used.
func (f *File) newList(inline, chain, n uint64) (*offList, error) {
	l := &offList{f: f, inline: inline, hint: -1}
	itemSize := uint64(8)
	if f.compact() {
		itemSize = 4
	}
	for off := chain; off != 0 && uint64(l.n) < n; {
		if len(l.arrays) >= maxEntryArraysInList {
			return nil, f.corrupt(off, "more than %d entry arrays in one list", maxEntryArraysInList)
		}
		o, err := f.object(off, objEntryArray, entryArrayFixedSize)
		if err != nil {
			return nil, err
		}
		next, err := f.u64(off + objHeaderSize)
		if err != nil {
			return nil, err
		}
		k := min((o.size-entryArrayFixedSize)/itemSize, n-uint64(l.n))
		// Unused items are zero. The count the file keeps says how many
		// are used, but a count from a corrupt header must not turn
		// them into entries: cut the array at its first zero, and the
		// list there.
		used, err := l.usedItems(off, k, itemSize)
		if err != nil {
			return nil, err
		}
		if used > 0 {
			l.arrays = append(l.arrays, arrayDesc{off: off, first: l.n, n: int(used)})
			l.n += int(used)
		}
		if used < k {
			break
		}
		if next != 0 && next <= off {
			return nil, f.corrupt(off, "entry array chain points backwards (to %#x)", next)
		}
		off = next
	}
	return l, nil
}

// usedItems returns how many of the first k items of the entry array at
// off are not zero, assuming zeros only at the end.
func (l *offList) usedItems(off, k, itemSize uint64) (uint64, error) {
	item := func(i uint64) (uint64, error) {
		b, err := l.f.readAt(off+entryArrayFixedSize+i*itemSize, itemSize)
		if err != nil {
			return 0, err
		}
		if itemSize == 4 {
			return uint64(binary.LittleEndian.Uint32(b)), nil
		}
		return binary.LittleEndian.Uint64(b), nil
	}
	if k == 0 {
		return 0, nil
	}
	if v, err := item(k - 1); err != nil || v != 0 {
		return k, err
	}
	var ierr error
	i := sort.Search(int(k), func(i int) bool {
		v, err := item(uint64(i))
		if err != nil {
			ierr = err
		}
		return v == 0
	})
	return uint64(i), ierr
}

func (l *offList) len() int {
	if l.inline != 0 {
		return l.n + 1
	}
	return l.n
}

// at returns the i-th offset. A zero item (not written yet by a writer
// still at work, or lost) is reported as corrupt: the caller stops there.
func (l *offList) at(i int) (uint64, error) {
	if l.inline != 0 {
		if i == 0 {
			return l.inline, nil
		}
		i--
	}
	j := sort.Search(len(l.arrays), func(j int) bool { return l.arrays[j].first+l.arrays[j].n > i })
	a := l.arrays[j]
	f := l.f
	var v uint64
	if f.compact() {
		b, err := f.readAt(a.off+entryArrayFixedSize+uint64(i-a.first)*4, 4)
		if err != nil {
			return 0, err
		}
		v = uint64(binary.LittleEndian.Uint32(b))
	} else {
		b, err := f.readAt(a.off+entryArrayFixedSize+uint64(i-a.first)*8, 8)
		if err != nil {
			return 0, err
		}
		v = binary.LittleEndian.Uint64(b)
	}
	if v == 0 {
		return 0, f.corrupt(a.off, "entry array item %d is empty", i-a.first)
	}
	return v, nil
}

// search returns the smallest index i for which pred(at(i)) holds, as
// sort.Search does, pred being false then true along the list.
func (l *offList) search(pred func(off uint64) bool) (int, error) {
	return l.searchRange(0, l.len(), pred)
}

// searchRange is search within [lo, hi); it returns hi if pred holds
// nowhere there. Whatever the list holds (a corrupt one need not be
// sorted), pred held at the index returned, unless that is hi, and did not
// at the one before it, unless that is lo-1: so a seek never goes
// backwards, and walks end.
func (l *offList) searchRange(lo, hi int, pred func(off uint64) bool) (int, error) {
	for lo < hi {
		mid := int(uint(lo+hi) >> 1)
		v, err := l.at(mid)
		if err != nil {
			return 0, err
		}
		if pred(v) {
			hi = mid
		} else {
			lo = mid + 1
		}
	}
	return lo, nil
}

// searchNear is search starting from the index of the last seek, going
// out in steps that double before bisecting: a walk with matches seeks
// each list a little further each time, so this costs the log of the
// distance, not of the list.
func (l *offList) searchNear(pred func(off uint64) bool) (int, error) {
	n, h := l.len(), l.hint
	if h < 0 || h >= n {
		return l.search(pred)
	}
	v, err := l.at(h)
	if err != nil {
		return 0, err
	}
	if pred(v) { // the answer is h or before it
		hi := h
		for step := 1; ; step *= 2 {
			lo := hi - step
			if lo < 0 {
				return l.searchRange(0, hi, pred)
			}
			if v, err = l.at(lo); err != nil {
				return 0, err
			}
			if !pred(v) {
				return l.searchRange(lo+1, hi, pred)
			}
			hi = lo
		}
	}
	lo := h + 1 // the answer is after h
	for step := 1; ; step *= 2 {
		probe := lo + step - 1
		if probe >= n {
			return l.searchRange(lo, n, pred)
		}
		if v, err = l.at(probe); err != nil {
			return 0, err
		}
		if pred(v) {
			return l.searchRange(lo, probe, pred)
		}
		lo = probe + 1
	}
}

// seekGE returns the smallest offset >= x in the list.
func (l *offList) seekGE(x uint64) (uint64, bool, error) {
	i, err := l.searchNear(func(v uint64) bool { return v >= x })
	if err != nil || i >= l.len() {
		return 0, false, err
	}
	l.hint = i
	v, err := l.at(i)
	return v, err == nil, err
}

// seekLE returns the largest offset <= x in the list.
func (l *offList) seekLE(x uint64) (uint64, bool, error) {
	i, err := l.searchNear(func(v uint64) bool { return v > x })
	if err != nil || i == 0 {
		return 0, false, err
	}
	l.hint = i - 1
	v, err := l.at(i - 1)
	return v, err == nil, err
}
