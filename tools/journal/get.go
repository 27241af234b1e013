// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	jfile "github.com/tailops/tailops/journal"
	"github.com/tailops/tailops/redact"
)

// Result is get_journal's output.
type Result struct {
	Entries   []Entry  `json:"entries"`
	Order     string   `json:"order" jsonschema_description:"newest (first) or oldest (first)"`
	Truncated bool     `json:"truncated" jsonschema_description:"more entries matched than lines or max_bytes let through (or than the scan limit reached), or a message was cut"`
	Notes     []string `json:"notes,omitempty" jsonschema_description:"journal files skipped (unreadable or corrupt) and limits met, each with why"`
}

// Entry is one journal entry.
type Entry struct {
	Time       string `json:"time" jsonschema_description:"when it was logged, RFC 3339 in UTC with microseconds"`
	Unit       string `json:"unit,omitempty" jsonschema_description:"the systemd unit that logged it (_SYSTEMD_UNIT, or _SYSTEMD_USER_UNIT)"`
	Priority   *int   `json:"priority,omitempty" jsonschema_description:"0 (emerg) to 7 (debug)"`
	PID        int    `json:"pid,omitempty"`
	Identifier string `json:"identifier,omitempty" jsonschema_description:"SYSLOG_IDENTIFIER, or the command name"`
	Message    string `json:"message" jsonschema_description:"secrets redacted"`
	Truncated  bool   `json:"truncated,omitempty" jsonschema_description:"the message was cut"`
}

// Bounds of one call's reading.
const (
	// defaultMaxScan bounds the entries one call examines after the
	// index did its part (a grep, a time range the index cannot narrow):
	// Toolset.maxScan.
	defaultMaxScan = 2_000_000
	// maxErrors bounds the read errors one call goes on after.
	maxErrors = 1000
	// maxNotes bounds the notes of a result.
	maxNotes = 20
	// entryOverhead is what an entry costs in max_bytes besides its texts.
	entryOverhead = 48
	// maxLabel bounds an entry's unit and identifier, which max_bytes
	// counts but does not cut: SYSLOG_IDENTIFIER is the logging program's
	// to set, at any length (systemd's own limit for a unit name is 255).
	maxLabel = 256
)

// readOptions bound what the reader holds per entry: a message longer
// than max_bytes' maximum is cut anyway.
var readOptions = &jfile.Options{MaxFieldSize: 1 << 20, MaxEntrySize: 2 << 20}

// errPermission is the refusal when the journal files cannot be read.
var errPermission = errors.New("reading the journal: permission denied. The journal files belong to the systemd-journal group: " +
	"add the user TailOps runs as to it (usermod -a -G systemd-journal USER, then restart TailOps), or in a container " +
	"pass the host's systemd-journal group ID with --group-add (getent group systemd-journal on the host). " +
	"TailOps needs no capability for this")

func (t *Toolset) get(ctx context.Context, in GetArgs) (Result, error) {
	q, err := parseQuery(in, time.Now())
	if err != nil {
		return Result{}, err
	}
	j, err := jfile.OpenDir(readOptions, t.dirs...)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return Result{}, errPermission
		}
		return Result{}, fmt.Errorf("reading the journal: %w", err)
	}
	defer j.Close()
	res := Result{Entries: []Entry{}, Order: "newest"}
	if !q.newest {
		res.Order = "oldest"
	}
	denied := 0
	for _, err := range j.Skipped {
		if errors.Is(err, fs.ErrPermission) {
			denied++
			continue
		}
		res.note("skipped %s", jfile.DescribeError(err))
		t.log.Warn("journal file skipped", slog.String("file", filepath.Base(errPath(err))), slog.Any("error", err))
	}
	if denied > 0 {
		if len(j.Files()) == 0 {
			return Result{}, errPermission
		}
		res.note("skipped %d journal file(s) this user may not read (the systemd-journal group may)", denied)
	}
	if q.bootOffset != nil {
		boots, err := j.Boots(1 << 16)
		if err != nil {
			res.note("listing boots: %s", jfile.DescribeError(err))
		}
		if q.bootID, err = resolveBoot(*q.bootOffset, boots); err != nil {
			return Result{}, err
		}
	}
	s := &scan{ctx: ctx, q: q, res: &res, maxScan: t.maxScan}
	for _, ms := range q.matchSets() {
		r, err := j.Reader(ms...)
		if err != nil {
			return Result{}, fmt.Errorf("reading the journal: %w", err)
		}
		s.readers = append(s.readers, &source{r: r})
	}
	if err := s.run(); err != nil {
		return Result{}, err
	}
	return res, nil
}

// note adds a note, up to maxNotes.
func (r *Result) note(format string, a ...any) {
	switch {
	case len(r.Notes) < maxNotes:
		r.Notes = append(r.Notes, fmt.Sprintf(format, a...))
	case len(r.Notes) == maxNotes:
		r.Notes = append(r.Notes, "(more notes left out)")
	}
}

// errPath is the file an open error is about, or "".
func errPath(err error) string {
	var fe *jfile.FormatError
	var pe *fs.PathError
	switch {
	case errors.As(err, &fe):
		return fe.Path
	case errors.As(err, &pe):
		return pe.Path
	}
	return ""
}

// source is one reader of the merge, with the entry it has ready.
type source struct {
	r    *jfile.Reader
	peek *jfile.Entry
	done bool
	errs int
}

// scan walks the query's readers merged, newest or oldest first.
type scan struct {
	ctx     context.Context
	q       *query
	res     *Result
	readers []*source
	maxScan int // entries examined at most
	scanned int
	stopped bool // maxScan was reached
	size    int
}

// run fills the result.
func (s *scan) run() error {
	q := s.q
	if !q.around.IsZero() {
		before, err := s.walk(q.around, false, (q.lines+1)/2, s.q.maxBytes/2)
		if err != nil {
			return err
		}
		slices.Reverse(before)
		// The entries logged at around came before it.
		after, err := s.walk(q.around.Add(time.Microsecond), true, q.lines-len(before), q.maxBytes-s.size)
		if err != nil {
			return err
		}
		s.res.Entries = append(before, after...)
		if q.newest {
			slices.Reverse(s.res.Entries)
		}
		return nil
	}
	var from time.Time
	if q.newest {
		from = q.until
	} else {
		from = q.since
	}
	out, err := s.walk(from, !q.newest, q.lines, q.maxBytes)
	s.res.Entries = out
	return err
}

// walk reads from the moment from (zero: the end in the direction's
// opposite) forward or backward, up to n entries and max bytes, within the
// query's since and until.
func (s *scan) walk(from time.Time, fwd bool, n, max int) ([]Entry, error) {
	for _, src := range s.readers {
		switch {
		case !from.IsZero() && fwd:
			src.r.SeekRealtime(from)
		case !from.IsZero():
			// Until is inclusive: stand after the entries logged at it.
			src.r.SeekRealtime(from.Add(time.Microsecond))
		case fwd:
			src.r.SeekHead()
		default:
			src.r.SeekTail()
		}
		src.peek, src.done, src.errs = nil, false, 0
	}
	var out []Entry
	size := 0
	for {
		e, err := s.next(fwd)
		if err != nil || e == nil {
			return out, err
		}
		if len(out) == n || size >= max {
			s.res.Truncated = true
			return out, nil
		}
		x := s.entry(e)
		cost := len(x.Message) + len(x.Unit) + len(x.Identifier) + entryOverhead
		if size+cost > max {
			if len(out) > 0 {
				s.res.Truncated = true
				return out, nil
			}
			// One entry bigger than the budget: cut its message, and its
			// labels too when they alone leave no room (around's halves
			// get half of max_bytes each).
			if room := (max - entryOverhead) / 2; len(x.Unit)+len(x.Identifier) > max-entryOverhead {
				x.Unit, x.Identifier = cutLabelTo(x.Unit, room), cutLabelTo(x.Identifier, room)
			}
			x.Message, x.Truncated = cutUTF8(x.Message, max-len(x.Unit)-len(x.Identifier)-entryOverhead), true
			cost = len(x.Message) + len(x.Unit) + len(x.Identifier) + entryOverhead
		}
		if x.Truncated {
			s.res.Truncated = true
		}
		out = append(out, x)
		size += cost
		s.size += cost
	}
}

// next returns the next entry in the direction that the query takes
// (within since and until, matching grep), nil at the end.
func (s *scan) next(fwd bool) (*jfile.Entry, error) {
	q := s.q
	for {
		if s.scanned%1024 == 0 {
			if err := s.ctx.Err(); err != nil {
				return nil, fmt.Errorf("reading the journal: %w", err)
			}
		}
		if s.scanned >= s.maxScan {
			if !s.stopped { // once, though an around query walks twice
				s.stopped, s.res.Truncated = true, true
				s.res.note("stopped after examining %d entries: narrow the query (unit, priority, boot, since, until)", s.maxScan)
			}
			return nil, nil
		}
		e := s.pick(fwd)
		if e == nil {
			return nil, nil
		}
		s.scanned++
		if !q.until.IsZero() && e.Realtime.After(q.until) {
			if fwd {
				return nil, nil
			}
			continue // a clock that jumped back
		}
		if !q.since.IsZero() && e.Realtime.Before(q.since) {
			if !fwd {
				return nil, nil
			}
			continue
		}
		if q.grep != nil && !q.grep.MatchString(redact.Text(e.String("MESSAGE"))) {
			continue
		}
		return e, nil
	}
}

// pick takes the next entry of the merge: of the readers' next entries,
// the newest (backward) or the oldest (forward).
func (s *scan) pick(fwd bool) *jfile.Entry {
	var best *source
	for _, src := range s.readers {
		s.fill(src, fwd)
		if src.peek == nil {
			continue
		}
		if best == nil || (fwd && src.peek.Realtime.Before(best.peek.Realtime)) || (!fwd && src.peek.Realtime.After(best.peek.Realtime)) {
			best = src
		}
	}
	if best == nil {
		return nil
	}
	e := best.peek
	best.peek = nil
	// The same entry through another reader (systemd's message about a
	// unit, logged from within it) is returned once.
	for _, src := range s.readers {
		if src.peek != nil && src.peek.File == e.File && src.peek.Seqnum == e.Seqnum {
			src.peek = nil
		}
	}
	return e
}

// fill reads src's next entry, going on after a bad one.
func (s *scan) fill(src *source, fwd bool) {
	for src.peek == nil && !src.done {
		var e *jfile.Entry
		var err error
		if fwd {
			e, err = src.r.Next()
		} else {
			e, err = src.r.Prev()
		}
		switch {
		case err == io.EOF:
			src.done = true
		case err != nil:
			src.errs++
			s.res.note("skipped an unreadable entry: %s", jfile.DescribeError(err))
			if src.errs >= maxErrors {
				s.res.note("gave up after %d read errors", maxErrors)
				src.done = true
			}
		default:
			src.peek = e
		}
	}
}

// entry is the tool's view of a journal entry, its message and
// identifier redacted.
func (s *scan) entry(e *jfile.Entry) Entry {
	x := Entry{
		Time:       e.Realtime.UTC().Format("2006-01-02T15:04:05.000000Z07:00"),
		Unit:       e.String("_SYSTEMD_UNIT"),
		Identifier: e.String("SYSLOG_IDENTIFIER"),
		Message:    redact.Text(strings.ToValidUTF8(e.String("MESSAGE"), "\uFFFD")),
		Truncated:  e.Truncated,
	}
	if x.Unit == "" {
		x.Unit = e.String("_SYSTEMD_USER_UNIT")
	}
	if x.Identifier == "" {
		x.Identifier = e.String("_COMM")
	}
	// The identifier is the logging program's to set, like the message.
	x.Identifier = redact.Text(strings.ToValidUTF8(x.Identifier, "\uFFFD"))
	x.Unit, x.Identifier = cutLabel(x.Unit), cutLabel(x.Identifier)
	if p, err := strconv.Atoi(e.String("PRIORITY")); err == nil && p >= 0 && p <= 7 {
		x.Priority = &p
	}
	if pid, err := strconv.Atoi(e.String("_PID")); err == nil && pid > 0 {
		x.PID = pid
	} else if pid, err := strconv.Atoi(e.String("SYSLOG_PID")); err == nil && pid > 0 {
		x.PID = pid
	}
	return x
}

// cutUTF8 cuts s to at most n bytes, at a character boundary.
func cutUTF8(s string, n int) string {
	if n < 0 {
		n = 0
	}
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "")
}

// cutLabel cuts a unit or identifier to at most maxLabel bytes, at a
// character boundary, ending it with "…" when it was cut: an entry then
// costs at most its message and 2*maxLabel+entryOverhead bytes (an entry
// over its walk's whole budget is cut further, see walk).
func cutLabel(s string) string { return cutLabelTo(s, maxLabel) }

// cutLabelTo cuts s to at most n bytes at a character boundary, ending it
// with "…" when it was cut.
func cutLabelTo(s string, n int) string {
	if len(s) <= n {
		return s
	}
	if n < len("…") {
		return ""
	}
	return cutUTF8(s, n-len("…")) + "…"
}

// resultText renders the result as journalctl's short-iso output does.
func resultText(r Result) string {
	var b strings.Builder
	for _, e := range r.Entries {
		b.WriteString(e.Time)
		if e.Unit != "" {
			b.WriteString(" " + e.Unit)
		}
		if e.Identifier != "" {
			b.WriteString(" " + e.Identifier)
		}
		if e.PID > 0 {
			fmt.Fprintf(&b, "[%d]", e.PID)
		}
		if e.Priority != nil {
			fmt.Fprintf(&b, " <%s>", priorityNames[*e.Priority])
		}
		b.WriteString(": " + e.Message + "\n")
	}
	if len(r.Entries) == 0 {
		b.WriteString("(no entries)\n")
	}
	if r.Truncated {
		b.WriteString("(more entries matched: raise lines or max_bytes, or narrow the query)\n")
	}
	for _, n := range r.Notes {
		b.WriteString("note: " + n + "\n")
	}
	return b.String()
}
