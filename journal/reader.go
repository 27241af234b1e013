// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"strings"
	"time"
)

// Reader walks the entries of one file or of several merged (a Journal),
// forward and backward, optionally only those that match.
//
// Matches are FIELD=value pairs: matches on the same field are
// alternatives (PRIORITY=0 or PRIORITY=1), matches on different fields must
// all hold (_SYSTEMD_UNIT=x.service and PRIORITY=3).
//
// A Reader is not safe for concurrent use, nor are two Readers on the
// same File or Journal.
type Reader struct {
	curs []*cursor
}

// Reader returns a Reader over the file's entries that match, at the head.
func (f *File) Reader(matches ...string) (*Reader, error) {
	ms, err := parseMatches(matches)
	if err != nil {
		return nil, err
	}
	return &Reader{curs: []*cursor{{f: f, matches: ms}}}, nil
}

type match struct{ field, payload string }

func parseMatches(in []string) ([]match, error) {
	ms := make([]match, 0, len(in))
	for _, s := range in {
		name, _, ok := strings.Cut(s, "=")
		if !ok || name == "" {
			return nil, fmt.Errorf("parsing match %q: want FIELD=value", s)
		}
		ms = append(ms, match{field: name, payload: s})
	}
	return ms, nil
}

// SeekHead moves before the first entry.
func (r *Reader) SeekHead() { r.seek(seekTarget{kind: seekHead}) }

// SeekTail moves after the last entry.
func (r *Reader) SeekTail() { r.seek(seekTarget{kind: seekTail}) }

// SeekRealtime moves before the first entry logged at t or later (by each
// file's entry order, which journald keeps in wall-clock order unless the
// clock jumped back): Next returns it, Prev the last one before t.
func (r *Reader) SeekRealtime(t time.Time) {
	r.seek(seekTarget{kind: seekRealtime, usec: realtimeUsec(t)})
}

func realtimeUsec(t time.Time) uint64 {
	if t.After(time.Unix(0, 0)) {
		return uint64(t.UnixMicro())
	}
	return 0
}

// SeekCursor moves before the entry the cursor (Entry.Cursor) names, so
// that Next returns it again and Prev the one before it: by sequence
// number in files the same writer wrote, by wall clock in others. An
// entry gone since (a file rotated away) is not an error: the position
// is where it would be.
func (r *Reader) SeekCursor(cursor string) error {
	c, err := parseCursor(cursor)
	if err != nil {
		return err
	}
	r.seek(seekTarget{kind: seekCursor, usec: c.realtime, seqnumID: c.seqnumID, seqnum: c.seqnum})
	return nil
}

func (r *Reader) seek(to seekTarget) {
	for _, c := range r.curs {
		c.pending = to
		c.peek = nil
	}
}

// Next returns the entry after the current position and moves past it,
// or io.EOF after the last one. An error in one file is returned once;
// the next call goes on with the entries after the bad one, or without
// that file if it cannot be walked any further.
func (r *Reader) Next() (*Entry, error) { return r.step(true) }

// Prev returns the entry before the current position and moves before
// it, or io.EOF before the first one. Errors are as for Next.
func (r *Reader) Prev() (*Entry, error) { return r.step(false) }

func (r *Reader) step(fwd bool) (*Entry, error) {
	var best *cursor
	for _, c := range r.curs {
		if c.failed {
			continue
		}
		if c.peek != nil && c.peekFwd != fwd {
			c.peek = nil
		}
		if c.peek == nil {
			h, ok, err := c.find(fwd)
			if err != nil {
				var skip skippedError
				if !errors.As(err, &skip) {
					c.failed = true
					return nil, err
				}
				return nil, skip.error
			}
			if !ok {
				continue
			}
			c.peek, c.peekFwd = &h, fwd
		}
		if best == nil {
			best = c
			continue
		}
		o := order(c.peek, best.peek)
		if (fwd && o < 0) || (!fwd && o > 0) {
			best = c
		}
	}
	if best == nil {
		return nil, io.EOF
	}
	h := *best.peek
	// The same entry in other files (copies journald or journal-remote
	// made) is shown once.
	for _, c := range r.curs {
		if c != best && c.peek != nil && c.peekFwd == fwd && order(c.peek, &h) == 0 {
			c.pass(*c.peek, fwd)
		}
	}
	best.pass(h, fwd)
	return best.f.entry(h)
}

// order is the order of entries across files, as journalctl's: by
// sequence number within one writer's files, by monotonic time within one
// boot, else by wall clock.
func order(a, b *entryHead) int {
	if a.seqnumID == b.seqnumID {
		return cmp.Compare(a.seqnum, b.seqnum)
	}
	if a.bootID == b.bootID {
		if c := cmp.Compare(a.monotonic, b.monotonic); c != 0 {
			return c
		}
	}
	if c := cmp.Compare(a.realtime, b.realtime); c != 0 {
		return c
	}
	return cmp.Compare(a.xorHash, b.xorHash)
}

// skippedError is a bad entry the cursor has moved over: the file can be
// walked on.
type skippedError struct{ error }

type seekKind uint8

const (
	seekNone seekKind = iota
	seekHead
	seekTail
	seekRealtime
	seekCursor
)

// seekTarget is a seek not resolved yet: resolving needs the matcher.
type seekTarget struct {
	kind     seekKind
	usec     uint64 // seekRealtime, and seekCursor in another writer's files
	seqnumID ID     // seekCursor
	seqnum   uint64
}

// cursor is a Reader's position in one file: a gap between entries.
// Entries at offsets below gap are before it, the others after it.
type cursor struct {
	f       *File
	matches []match
	m       *matcher // nil until first used, and after the file grew
	gap     uint64

	pending seekTarget

	peek    *entryHead // the next entry in the direction peekFwd, found already
	peekFwd bool
	failed  bool
}

// pass moves the gap over h.
func (c *cursor) pass(h entryHead, fwd bool) {
	if fwd {
		c.gap = h.off + 1
	} else {
		c.gap = h.off
	}
	c.peek = nil
}

// find returns the next matching entry in the direction; ok is false at
// the end. Going forward past the last entry, it reads the header again
// in case the file grew.
func (c *cursor) find(fwd bool) (entryHead, bool, error) {
	if err := c.ready(); err != nil {
		return entryHead{}, false, err
	}
	for try := 0; ; try++ {
		var off uint64
		var ok bool
		var err error
		if fwd {
			off, ok, err = c.m.seek(c.gap, true)
		} else if c.gap > 0 {
			off, ok, err = c.m.seek(c.gap-1, false)
		}
		if err != nil {
			return entryHead{}, false, err
		}
		if ok {
			h, err := c.f.entryHead(off)
			if err != nil {
				// A bad entry in a list that is sound: go on after it.
				c.pass(entryHead{off: off}, fwd)
				return h, false, skippedError{err}
			}
			return h, true, nil
		}
		if !fwd || try > 0 || State(c.f.hdr.state) == StateArchived {
			return entryHead{}, false, nil
		}
		n := c.f.hdr.nEntries
		if err := c.f.refresh(); err != nil {
			return entryHead{}, false, err
		}
		if c.f.hdr.nEntries == n {
			return entryHead{}, false, nil
		}
		c.m = nil
		if err := c.ready(); err != nil {
			return entryHead{}, false, err
		}
	}
}

// ready builds the matcher and resolves a pending seek.
func (c *cursor) ready() error {
	if c.m == nil {
		m, err := c.f.newMatcher(c.matches)
		if err != nil {
			return err
		}
		c.m = m
	}
	to := c.pending
	if to.kind == seekNone {
		return nil
	}
	all := c.m.all
	i := 0
	switch {
	case to.kind == seekTail:
		i = all.len()
	case to.kind == seekCursor && to.seqnumID == c.f.hdr.seqnumID:
		var err error
		if i, err = c.searchEntries(func(h entryHead) bool { return h.seqnum >= to.seqnum }); err != nil {
			return err
		}
	case to.kind == seekRealtime || to.kind == seekCursor:
		var err error
		if i, err = c.searchEntries(func(h entryHead) bool { return h.realtime >= to.usec }); err != nil {
			return err
		}
	}
	// The gap goes before entry i, or after the last entry: entries a
	// writer appends later come after it.
	switch {
	case i < all.len():
		off, err := all.at(i)
		if err != nil {
			return err
		}
		c.gap = off
	case i == 0:
		c.gap = 0
	default:
		last, err := all.at(i - 1)
		if err != nil {
			return err
		}
		c.gap = last + 1
	}
	c.pending = seekTarget{}
	return nil
}

// searchEntries bisects the file's list of all entries on their heads.
func (c *cursor) searchEntries(pred func(entryHead) bool) (int, error) {
	var herr error
	i, err := c.m.all.search(func(off uint64) bool {
		h, err := c.f.entryHead(off)
		if err != nil {
			herr = err
			return true
		}
		return pred(h)
	})
	if err == nil {
		err = herr
	}
	return i, err
}

// matcher finds a file's entries that match: an AND of ORs of DATA
// objects' entry lists, or all entries if there is no match.
type matcher struct {
	all    *offList
	groups [][]*offList
	none   bool // a field none of whose values occurs in the file
}

func (f *File) newMatcher(ms []match) (*matcher, error) {
	all, err := f.newList(0, f.hdr.entryArrayOff, f.hdr.nEntries)
	if err != nil {
		return nil, err
	}
	m := &matcher{all: all}
	var fields []string
	byField := map[string][]string{}
	for _, x := range ms {
		if _, ok := byField[x.field]; !ok {
			fields = append(fields, x.field)
		}
		byField[x.field] = append(byField[x.field], x.payload)
	}
	for _, name := range fields {
		var group []*offList
		for _, p := range byField[name] {
			d, ok, err := f.findData([]byte(p))
			if err != nil {
				return nil, err
			}
			if !ok || d.nEntries == 0 || d.entry == 0 {
				continue
			}
			l, err := f.newList(d.entry, d.entryArray, d.nEntries-1)
			if err != nil {
				return nil, err
			}
			group = append(group, l)
		}
		if len(group) == 0 {
			m.none = true
		}
		m.groups = append(m.groups, group)
	}
	return m, nil
}

// seek returns the first matching entry at or after x (fwd), or the last
// at or before it.
func (m *matcher) seek(x uint64, fwd bool) (uint64, bool, error) {
	if m.none {
		return 0, false, nil
	}
	if len(m.groups) == 0 {
		return listSeek(m.all, x, fwd)
	}
	// Each group moves the candidate to its own next entry; when no group
	// moves it, every group has it.
	for {
		moved := false
		for _, g := range m.groups {
			best, found := uint64(0), false
			for _, l := range g {
				v, ok, err := listSeek(l, x, fwd)
				if err != nil {
					return 0, false, err
				}
				if ok && (!found || (fwd && v < best) || (!fwd && v > best)) {
					best, found = v, true
				}
			}
			if !found {
				return 0, false, nil
			}
			if best != x {
				x, moved = best, true
			}
		}
		if !moved {
			return x, true, nil
		}
	}
}

func listSeek(l *offList, x uint64, fwd bool) (uint64, bool, error) {
	if fwd {
		return l.seekGE(x)
	}
	return l.seekLE(x)
}
