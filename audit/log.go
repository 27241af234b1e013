// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/tailops/tailops/auth"
)

// ErrUnavailable is wrapped by every error Write and Healthy return once
// the log cannot accept records: after a failed write or sync, or once the
// file at the log's path is no longer the one being written (together with
// the cause), and after Close.
var ErrUnavailable = errors.New("audit log unavailable")

// retryEvery is how often, at most, an unavailable log tries to recover.
const retryEvery = time.Second

// defaultMaxSize is the rotation size when Options.MaxSize is 0.
const defaultMaxSize = 64 << 20

// Options configure a Log. A nil *Options means all defaults.
type Options struct {
	// MaxSize rotates the active file when a write would take it past
	// this many bytes; 0 means 64 MiB. A single record larger than MaxSize
	// still gets a file of its own.
	MaxSize int64
	// Logger receives warnings (repairs, rotations, failures); nil means
	// slog.Default().
	Logger *slog.Logger
	// Now is the clock for Record.Time; nil means time.Now.
	Now func() time.Time
	// Observe, when set, is called after every Write with how long it
	// took (until the record was durable, or failed) and its error, after
	// the Log's lock is released; it must not write to the Log. Metrics
	// use it (metrics.Metrics.AuditWrite).
	Observe func(d time.Duration, err error)
}

// Log is an open audit log. Its methods are safe for concurrent use.
type Log struct {
	path    string
	maxSize int64
	logger  *slog.Logger
	now     func() time.Time
	observe func(time.Duration, error) // Options.Observe, or nil
	lock    *os.File                   // flock(2)ed <path>.lock

	mu       sync.Mutex
	cond     *sync.Cond // signalled when a flush ends
	last     link       // last record handed a seq (durable or pending)
	pending  []pendingLine
	spare    []pendingLine
	flushing bool   // a goroutine is committing a batch (or recovering)
	arrived  int    // records queued while the last batch was committed
	durable  uint64 // highest seq known to be synced
	synced   link   // the record at durable
	fail     error  // non-nil while unhealthy; wraps ErrUnavailable
	closed   bool

	// While unhealthy: since when, how many records could not be written,
	// and the last attempt to recover. epoch counts failures, so a Write
	// waiting on a batch that failed never mistakes a later record with
	// its seq for its own.
	failedAt  time.Time
	lost      int
	lastTry   time.Time
	lastRetry string // the last recovery error logged
	epoch     uint64

	// Owned by the flushing goroutine (or by Open and Close, when there is
	// none).
	f            *os.File
	id           fileID // the device and inode of f
	size         int64
	nextRotation uint64
	buf          []byte
	headFailing  bool
	head         *os.File // <path>.head, opened on first update

	syncs atomic.Int64 // fsyncs of log files, for tests
	// delays counts the commits that waited commitDelay, for tests.
	delays atomic.Int64
}

// pendingLine is a record waiting for the next commit.
type pendingLine struct {
	link
	line []byte // with trailing newline
}

// fileID identifies a file: its device and inode.
type fileID struct{ dev, ino uint64 }

// Open opens the audit log at path, creating it (and its directory, 0700)
// if needed, and resumes its chain: the next record continues the seq and
// hash of the last record of the active file, or of the newest rotated file
// when the active file is missing or empty.
//
// Only one Log may have path open at a time, in any process; Open fails
// while another holds <path>.lock.
//
// A last line without its newline can only come from a write that was
// interrupted before it was synced, so no Write returned for it. Open
// repairs it rather than refusing to start after every crash: if the torn
// bytes are a whole JSON record it adds the newline, otherwise it saves
// them to <path>.torn-<offset>-* and truncates them away. Either way it
// logs a warning naming the file and offset and writes an EventLogRepaired
// record saying what it did, so the repair is itself in the chain.
//
// Open refuses, with an error telling the operator to run
// `tailops audit verify`, when the last complete line is not a record, when
// a rotated file ends with a torn line, and when the head file shows
// records were cut off the end (it says a later seq than the log holds, or
// another hash for the last record). It does not verify the whole chain;
// that is Verify's job.
func Open(path string, opts *Options) (*Log, error) {
	if path == "" {
		return nil, errors.New("opening audit log: empty path")
	}
	l := &Log{path: path, maxSize: defaultMaxSize, logger: slog.Default(), now: time.Now}
	if opts != nil {
		if opts.MaxSize > 0 {
			l.maxSize = opts.MaxSize
		}
		if opts.Logger != nil {
			l.logger = opts.Logger
		}
		if opts.Now != nil {
			l.now = opts.Now
		}
		l.observe = opts.Observe
	}
	l.cond = sync.NewCond(&l.mu)
	note, err := l.open()
	if err != nil {
		l.closeFiles()
		return nil, fmt.Errorf("opening audit log %s: %w", path, err)
	}
	if note != "" {
		if err := l.Write(context.Background(), &Record{Event: EventLogRepaired, Reason: note}); err != nil {
			l.closeFiles()
			return nil, fmt.Errorf("opening audit log %s: recording repair: %w", path, err)
		}
	}
	return l, nil
}

// open does Open's work; note describes a repair to record.
func (l *Log) open() (note string, err error) {
	if err := os.MkdirAll(filepath.Dir(l.path), 0o700); err != nil {
		return "", fmt.Errorf("creating directory: %w", err)
	}
	if err := l.acquireLock(); err != nil {
		return "", err
	}
	return l.resume()
}

// resume opens the active file (creating it if missing), finds the last
// record and checks it against the head file, and repairs a torn end: all
// of Open's work once the lock is held. It runs in Open, and in recover
// with the files owned by the recovering goroutine.
func (l *Log) resume() (note string, err error) {
	dir := filepath.Dir(l.path)
	rotated, err := rotatedFiles(l.path)
	if err != nil {
		return "", fmt.Errorf("listing rotated files: %w", err)
	}
	l.nextRotation = 1
	if len(rotated) > 0 {
		l.nextRotation = rotated[len(rotated)-1].n + 1
	}

	_, statErr := os.Stat(l.path)
	created := errors.Is(statErr, fs.ErrNotExist)
	l.f, err = os.OpenFile(l.path, os.O_RDWR|os.O_CREATE|os.O_APPEND|syscall.O_NOFOLLOW, 0o600)
	if errors.Is(err, syscall.ELOOP) {
		return "", fmt.Errorf("%s is a symbolic link, which the audit log never follows (another user who can write there could aim it anywhere): "+
			"give --audit-log the link's target", l.path)
	}
	if err != nil {
		return "", err
	}
	if created {
		if err := syncDir(dir); err != nil {
			return "", err
		}
	}
	fi, err := l.f.Stat()
	if err != nil {
		return "", err
	}
	l.id = idOf(fi)
	if fi.Mode().IsRegular() && fi.Mode().Perm()&0o077 != 0 {
		l.logger.Warn("audit log was readable by others; setting mode 0600", "path", l.path, "mode", fi.Mode().Perm().String())
		if err := l.f.Chmod(0o600); err != nil {
			return "", fmt.Errorf("setting mode 0600: %w", err)
		}
	}
	l.size = fi.Size()

	// Find the last record: in the active file, else in the newest
	// non-empty rotated file. Nothing is changed until it has been checked.
	var (
		line     []byte
		lineFile string
		lineOff  int64
		t        tail
	)
	if l.size > 0 {
		if t, err = readTail(l.f, l.size); err != nil {
			return "", fmt.Errorf("reading last record: %w", err)
		}
		switch {
		case t.tornIsRecord:
			line, lineFile, lineOff = t.torn, l.path, t.tornOff
		case t.hasLine:
			line, lineFile, lineOff = t.line, l.path, t.lineOff
		}
	}
	for i := len(rotated) - 1; line == nil && i >= 0; i-- {
		line, lineOff, err = lastRotatedLine(rotated[i].path)
		if err != nil {
			return "", err
		}
		lineFile = rotated[i].path
	}
	if line != nil {
		seq, _, reason := parseLink(line)
		if reason != "" {
			return "", fmt.Errorf("last line of %s (offset %d): %s; run `tailops audit verify %s`", lineFile, lineOff, reason, l.path)
		}
		l.last = link{seq: seq, hash: sha256.Sum256(line)}
	}
	l.durable, l.synced = l.last.seq, l.last
	headNote, err := l.checkHead()
	if err != nil {
		return "", err
	}
	if len(t.torn) > 0 {
		note, err := l.repair(t)
		return joinNotes(headNote, note), err
	}
	return headNote, nil
}

// joinNotes joins the notes that are not empty.
func joinNotes(notes ...string) string {
	return strings.Join(slices.DeleteFunc(notes, func(n string) bool { return n == "" }), "; ")
}

// acquireLock takes an exclusive flock on <path>.lock.
func (l *Log) acquireLock() error {
	f, err := os.OpenFile(l.path+".lock", os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		return fmt.Errorf("creating lock file: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return fmt.Errorf("locking %s: in use by another audit log writer: %w", f.Name(), err)
		}
		return fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	l.lock = f
	return nil
}

// checkHead refuses to resume a log the head file says was cut short or
// replaced: the head's record must be the log's last one, or (the head
// is not fsync'd, so a crash can leave it a batch behind) one of the
// records before it. An unreadable head is ignored, and note says so
// for an EventLogRepaired record: whether the log's end was cut before
// it cannot be told.
func (l *Log) checkHead() (note string, err error) {
	h, err := readHead(l.path)
	if errors.Is(err, errBadHead) {
		l.logger.Warn("ignoring unreadable audit head file; it is rewritten by the next record", "path", headPath(l.path))
		return fmt.Sprintf("the head file %s was unreadable and was ignored: whether records were cut from the log's end before seq %d cannot be told",
			headPath(l.path), l.last.seq), nil
	}
	if err != nil {
		return "", err
	}
	switch {
	case h == nil:
		return "", nil
	case h.Seq > l.last.seq:
		return "", fmt.Errorf("log ends at seq %d but %s says %d (records deleted at the end?); run `tailops audit verify %s`, and remove the head file only to accept the log as it is",
			l.last.seq, headPath(l.path), h.Seq, l.path)
	case h.Seq == l.last.seq && h.Hash != l.last.hexHash():
		return "", fmt.Errorf("last record (seq %d) does not match %s (record altered?); run `tailops audit verify %s`, and remove the head file only to accept the log as it is",
			l.last.seq, headPath(l.path), l.path)
	case h.Seq < l.last.seq:
		k, err := h.link()
		if err != nil {
			return "", err
		}
		if held, err := l.holds(k); err != nil {
			return "", err
		} else if !held {
			return "", fmt.Errorf("the log holds no record seq %d as %s names it in its last %d records (log replaced by another chain, or the head file behind "+
				"since writing it failed?); run `tailops audit verify %s`, and remove the head file only to accept the log as it is",
				h.Seq, headPath(l.path), maxLookBack, l.path)
		}
	}
	return "", nil
}

// maxLookBack bounds how many records back from a file's end holds looks.
const maxLookBack = 4096

// holds reports whether the log holds record k: in the active file or
// the newest rotated one, at most maxLookBack records from their ends.
// Records written after k follow it; a log that reaches past k without
// it was replaced.
func (l *Log) holds(k link) (bool, error) {
	paths := []string{l.path}
	if rotated, err := rotatedFiles(l.path); err == nil && len(rotated) > 0 {
		paths = append(paths, rotated[len(rotated)-1].path)
	}
	for _, path := range paths {
		found, below, err := fileHolds(path, k)
		if err != nil || found || below {
			return found, err
		}
	}
	return false, nil
}

// fileHolds looks for record k in the file at path, reading its lines
// back from the end: found when the line of k's seq hashes to k's hash;
// below when a line before k's seq was reached without it (the file
// cannot hold it further back).
func fileHolds(path string, k link) (found, below bool, err error) {
	f, err := os.Open(path)
	if err != nil {
		return false, false, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return false, false, err
	}
	size := fi.Size()
	for range maxLookBack {
		if size == 0 {
			return false, false, nil
		}
		t, err := readTail(f, size)
		if err != nil {
			return false, false, err
		}
		if !t.hasLine {
			return false, false, nil
		}
		seq, _, reason := parseLink(t.line)
		switch {
		case reason != "":
			return false, false, fmt.Errorf("line at offset %d of %s: %s", t.lineOff, path, reason)
		case seq == k.seq:
			return sha256.Sum256(t.line) == k.hash, true, nil
		case seq < k.seq:
			return false, true, nil
		}
		size = t.lineOff
	}
	return false, false, nil
}

// repair completes or cuts off the torn end of the active file and
// returns the note for the EventLogRepaired record.
func (l *Log) repair(t tail) (string, error) {
	if t.tornIsRecord {
		l.logger.Warn("audit log ended with a record missing its newline; completing it",
			"path", l.path, "offset", t.tornOff)
		if _, err := l.f.Write([]byte{'\n'}); err != nil {
			return "", fmt.Errorf("completing torn record: %w", err)
		}
		if err := l.f.Sync(); err != nil {
			return "", fmt.Errorf("completing torn record: %w", err)
		}
		l.size++
		return fmt.Sprintf("added the missing newline after the record at offset %d of %s (interrupted write)", t.tornOff, l.path), nil
	}
	l.logger.Warn("audit log ended with an incomplete record; cutting it off",
		"path", l.path, "offset", t.tornOff, "bytes", len(t.torn))
	saved, err := os.CreateTemp(filepath.Dir(l.path), filepath.Base(l.path)+".torn-"+strconv.FormatInt(t.tornOff, 10)+"-*")
	if err != nil {
		return "", fmt.Errorf("saving torn record: %w", err)
	}
	_, err = saved.Write(t.torn)
	if err == nil {
		err = saved.Sync()
	}
	if cerr := saved.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("saving torn record: %w", err)
	}
	if err := l.f.Truncate(t.tornOff); err != nil {
		return "", fmt.Errorf("cutting off torn record: %w", err)
	}
	if err := l.f.Sync(); err != nil {
		return "", fmt.Errorf("cutting off torn record: %w", err)
	}
	if err := syncDir(filepath.Dir(l.path)); err != nil {
		return "", err
	}
	l.size = t.tornOff
	return fmt.Sprintf("discarded %d bytes of an incomplete record at offset %d of %s (interrupted write); saved them to %s",
		len(t.torn), t.tornOff, l.path, saved.Name()), nil
}

// tail is the end of a log file.
type tail struct {
	line         []byte // last complete line, without newline
	lineOff      int64
	hasLine      bool
	torn         []byte // bytes after the last newline
	tornOff      int64
	tornIsRecord bool // torn is a whole record (only its newline is missing)
}

// readTail reads the last complete line of a file of the given size and
// whatever follows its newline, reading backwards in chunks.
func readTail(f io.ReaderAt, size int64) (tail, error) {
	var buf []byte // the file's bytes [pos, size)
	pos := size
	for {
		end, start := bytes.LastIndexByte(buf, '\n'), -1
		if end >= 0 {
			start = bytes.LastIndexByte(buf[:end], '\n')
		}
		if pos == 0 || start >= 0 {
			var t tail
			if end >= 0 {
				t.line, t.lineOff, t.hasLine = buf[start+1:end], pos+int64(start+1), true
			}
			t.torn, t.tornOff = buf[end+1:], pos+int64(end+1)
			if len(t.torn) > 0 {
				_, _, reason := parseLink(t.torn)
				t.tornIsRecord = reason == ""
			}
			return t, nil
		}
		var err error
		if pos, buf, err = readBack(f, pos, buf); err != nil {
			return tail{}, err
		}
	}
}

// backChunk is how much a backwards read of a log file reads at a time.
const backChunk = 64 << 10

// readBack extends buf, the file's bytes from pos on, backwards by one
// chunk (less at the file's start) and returns the new pos and buf.
func readBack(f io.ReaderAt, pos int64, buf []byte) (int64, []byte, error) {
	n := min(int64(backChunk), pos)
	pos -= n
	b := make([]byte, int(n)+len(buf))
	if _, err := f.ReadAt(b[:n], pos); err != nil {
		return pos, nil, err
	}
	copy(b[n:], buf)
	return pos, b, nil
}

// lastRotatedLine returns the last line of a rotated file, which must end
// with a newline; nil if the file is empty.
func lastRotatedLine(path string) ([]byte, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	if fi.Size() == 0 {
		return nil, 0, nil
	}
	t, err := readTail(f, fi.Size())
	if err != nil {
		return nil, 0, fmt.Errorf("reading last record of %s: %w", path, err)
	}
	if len(t.torn) > 0 {
		return nil, 0, fmt.Errorf("rotated file %s ends with an incomplete line at offset %d; run `tailops audit verify`", path, t.tornOff)
	}
	return t.line, t.lineOff, nil
}

// rotatedLast reports whether the newest rotated file ends with k.
func (l *Log) rotatedLast(k link) bool {
	rotated, err := rotatedFiles(l.path)
	if err != nil || len(rotated) == 0 {
		return false
	}
	line, _, err := lastRotatedLine(rotated[len(rotated)-1].path)
	return err == nil && line != nil && sha256.Sum256(line) == k.hash
}

// Path returns the active file's path, as given to Open.
func (l *Log) Path() string { return l.path }

// Healthy returns nil when the log can accept records, and otherwise the
// error (wrapping ErrUnavailable) every Write now returns. Besides what
// Write notices, it checks that the file at the log's path is still the
// one being written: one stat(2).
//
// Like Write, Healthy on an unavailable log tries to recover, at most once
// a second (see Write).
func (l *Log) Healthy() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		return err
	}
	if !l.flushing { // else the commit under way checks it
		if err := l.checkFile(); err != nil {
			l.failWith(err)
			return l.fail
		}
	}
	return nil
}

// Usable is Healthy without the stat: nil unless a write, a check or
// Close has made the log unavailable. The next commit still checks the
// file before it writes, so a record is never acknowledged in a file
// that is no longer the log; Usable only skips finding that out early.
func (l *Log) Usable() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.usable()
}

// usable returns nil when the log can accept records. It is called with
// l.mu held; on an unavailable log it may first try to recover.
func (l *Log) usable() error {
	if l.closed {
		return fmt.Errorf("%w: closed", ErrUnavailable)
	}
	if l.fail != nil && !l.flushing && time.Since(l.lastTry) >= retryEvery {
		l.recover()
	}
	return l.fail
}

// failWith makes the log unavailable because of err. It is called with
// l.mu held.
func (l *Log) failWith(err error) {
	if l.fail != nil {
		return
	}
	l.fail = fmt.Errorf("%w: %w", ErrUnavailable, err)
	l.failedAt, l.lastTry, l.lastRetry = time.Now(), time.Now(), ""
	l.epoch++
	l.pending = nil
	l.logger.Error("audit log failed; refusing records until it can be written again", "path", l.path, "error", err)
	l.cond.Broadcast()
}

// checkFile returns an error when the file at the log's path is not the
// active file any more: removed, renamed away or replaced. Records written
// to the open file would then be lost to every reader of the path. It is
// called by the goroutine that owns the files, or with l.mu held and no
// flush running.
func (l *Log) checkFile() error {
	var st syscall.Stat_t
	if err := syscall.Stat(l.path, &st); errors.Is(err, syscall.ENOENT) {
		return fmt.Errorf("%s was removed or renamed while it was being written", l.path)
	} else if err != nil {
		return fmt.Errorf("checking %s: %w", l.path, err)
	}
	if (fileID{dev: uint64(st.Dev), ino: st.Ino}) != l.id {
		return fmt.Errorf("%s was replaced by another file while it was being written", l.path)
	}
	return nil
}

// idOf is the fileID of a file's FileInfo.
func idOf(fi fs.FileInfo) fileID {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return fileID{dev: uint64(st.Dev), ino: st.Ino}
	}
	return fileID{}
}

// recover tries to make an unavailable log usable again: it reopens the
// log as Open would (same checks, same repairs), makes sure it still ends
// with the last record this Log committed, and writes an EventLogRecovered
// record saying how long the log was out and how many records were lost.
// The log is usable again only once that record is durable. It is called
// with l.mu held and no flush running, releases l.mu while it reopens, and
// returns with it held.
func (l *Log) recover() {
	l.lastTry = time.Now()
	l.flushing = true // the files are this goroutine's until it is done
	synced := l.synced
	l.mu.Unlock()
	note, err := l.reopen(synced)
	l.mu.Lock()
	l.flushing = false
	l.cond.Broadcast()
	if l.closed {
		return
	}
	if err != nil {
		if msg := err.Error(); msg != l.lastRetry {
			l.logger.Warn("audit log still unavailable", "path", l.path, "error", err)
			l.lastRetry = msg
		}
		return
	}
	cause, since, lost := l.fail, l.failedAt, l.lost
	l.fail, l.lost, l.pending = nil, 0, nil
	recs := []*Record{}
	if note != "" {
		recs = append(recs, &Record{Event: EventLogRepaired, Reason: note})
	}
	recs = append(recs, &Record{Event: EventLogRecovered, Result: ResultSuccess, Error: cause.Error(),
		Reason: fmt.Sprintf("the audit log was unavailable for %s, from %s; records that could not be written: %d (their calls were refused, or their results withheld)",
			time.Since(since).Round(time.Millisecond), since.UTC().Format(time.RFC3339Nano), lost)})
	for _, r := range recs {
		r.Time = l.now().UTC()
		body, release, err := encodeBody(r, nil)
		if err == nil {
			_, _, err = l.append(body)
			release()
		}
		if err != nil {
			// append made the log unavailable again (or the record could
			// not be encoded, which cannot happen): the outage goes on.
			l.failWith(err)
			l.failedAt, l.lost = since, lost
			return
		}
	}
	l.logger.Warn("audit log recovered", "path", l.path, "unavailable_for", time.Since(since).Round(time.Millisecond), "records_lost", lost)
}

// reopen closes the active and head files and resumes the log from what
// is on disk, keeping the lock. The log must still hold synced, the last
// record committed before it failed, as its last record (or a later one: a
// write can reach the file and still fail). It runs in the goroutine that
// owns the files.
func (l *Log) reopen(synced link) (string, error) {
	if l.f != nil {
		l.f.Close()
		l.f = nil
	}
	if l.head != nil {
		l.head.Close()
		l.head = nil
	}
	// A missing active file is created only where a rotation was cut short:
	// the newest rotated file ends with the last record written.
	if _, err := os.Lstat(l.path); errors.Is(err, fs.ErrNotExist) && !l.rotatedLast(synced) {
		return "", fmt.Errorf("%s is missing; restore it", l.path)
	}
	note, err := l.resume()
	switch {
	case err != nil:
		return "", fmt.Errorf("reopening: %w", err)
	case l.last.seq < synced.seq:
		return "", fmt.Errorf("reopening: %s now ends at seq %d, before seq %d, the last record written; restore the log, or run `tailops audit verify %s`",
			l.path, l.last.seq, synced.seq, l.path)
	case l.last.seq == synced.seq && l.last.hash != synced.hash:
		return "", fmt.Errorf("reopening: the last record of %s (seq %d) is not the one written; restore the log, or run `tailops audit verify %s`",
			l.path, l.last.seq, l.path)
	case l.last.seq > synced.seq:
		// Records of the failed batch may have reached the file; a log
		// that reaches past the last record written must hold it.
		if held, err := l.holds(synced); err != nil {
			return "", fmt.Errorf("reopening: %w", err)
		} else if !held {
			return "", fmt.Errorf("reopening: %s holds no record seq %d as it was written (replaced by another chain?); restore the log, or run `tailops audit verify %s`",
				l.path, synced.seq, l.path)
		}
	}
	return note, nil
}

// Write appends r to the log and returns once it is on disk (fsync'd),
// sharing the write and fsync with concurrent Writes. It fills r.Seq,
// r.Prev, r.Time (when zero; always converted to UTC) and r.Event (when
// empty); the log gets a redacted copy of r's arguments, approval, request
// id, reason and error, and auth.CallerFrom(ctx) when r.Caller is nil.
//
// A Write that fails to write or sync makes the log unhealthy, as does a
// commit that finds the file at the log's path removed, renamed away or
// replaced (records written to the open file would be lost to everyone
// who reads the path); its error and every later one wrap ErrUnavailable
// and the cause. A record that cannot be encoded (a nil r, a Time past
// year 9999, a NaN argument) fails alone and leaves the log healthy. Write
// does not give up when ctx is done: a cancelled call must still be
// audited.
//
// An unhealthy log recovers by itself: Write and Healthy try, at most once
// a second, to reopen it as Open would (with the same checks: the head
// file, a torn last line), and it must still end with the last record
// committed before it failed. Records lost in between were never durable,
// so the chain continues unbroken; the first record after the outage is
// an EventLogRecovered record saying how long it lasted and how many
// records were lost, and the log is usable again once that record is
// durable. A log cut short or replaced by another chain stays unavailable
// until it is restored (or the server restarted after `tailops audit
// verify`).
func (l *Log) Write(ctx context.Context, r *Record) (err error) {
	if l.observe != nil {
		start := time.Now()
		defer func() { l.observe(time.Since(start), err) }() // after l.mu is released
	}
	if r == nil {
		return errors.New("writing audit record: nil record")
	}
	if r.Time.IsZero() {
		r.Time = l.now()
	}
	r.Time = r.Time.UTC()
	if r.Event == "" {
		r.Event = EventToolCall
	}
	caller := r.Caller
	if caller == nil && ctx != nil {
		caller = auth.CallerFrom(ctx)
	}
	body, release, err := encodeBody(r, caller)
	if err != nil {
		return fmt.Errorf("encoding audit record: %w", err)
	}
	defer release() // after append, which copies body at once

	l.mu.Lock()
	defer l.mu.Unlock()
	if err := l.usable(); err != nil {
		l.lost++
		return err
	}
	seq, prev, err := l.append(body)
	if err != nil {
		return err
	}
	r.Seq = seq
	r.Prev = hex.EncodeToString(prev.hash[:])
	return nil
}

// append chains body to the last record, queues it and waits until it is
// durable, flushing when no other goroutine is. It is called with l.mu
// held on a usable log, and returns the record's seq and its predecessor.
func (l *Log) append(body []byte) (uint64, link, error) {
	prev := l.last
	line := spliceLine(body, prev.seq+1, prev.hash)
	l.last = link{seq: prev.seq + 1, hash: sha256.Sum256(line)}
	seq, epoch := l.last.seq, l.epoch
	l.pending = append(l.pending, pendingLine{link: l.last, line: append(line, '\n')})
	for l.durable < seq || l.epoch != epoch {
		if l.fail != nil || l.epoch != epoch {
			l.lost++
			if l.fail == nil { // failed and recovered since: this record is lost
				return 0, link{}, fmt.Errorf("%w: the record was lost in an outage", ErrUnavailable)
			}
			return 0, link{}, l.fail
		}
		if !l.flushing {
			l.flush()
			continue
		}
		l.cond.Wait()
	}
	return seq, prev, nil
}

// commitDelay is how long a commit waits for more records when at least
// commitSiblings records arrived while the previous commit ran: under
// concurrent calls one fdatasync then covers several more records (as
// PostgreSQL's commit_delay and commit_siblings do), which saves more CPU
// than the wait costs; a lone caller's record never waits.
const (
	commitDelay    = 300 * time.Microsecond
	commitSiblings = 2
)

// flush commits the pending records. It is called with l.mu held and no
// flush running, releases l.mu while writing, and returns with it held.
func (l *Log) flush() {
	l.flushing = true
	if l.arrived >= commitSiblings {
		l.delays.Add(1)
		l.mu.Unlock()
		time.Sleep(commitDelay)
		l.mu.Lock()
	}
	batch := l.pending
	l.pending = l.spare[:0]
	lastLink := l.last
	l.mu.Unlock()

	durable, err := l.commit(batch, lastLink)

	l.mu.Lock()
	clear(batch)
	l.spare = batch[:0]
	l.flushing = false
	l.arrived = len(l.pending)
	if durable.seq > l.durable {
		l.durable, l.synced = durable.seq, durable
	}
	if err != nil {
		l.failWith(err)
	}
	l.cond.Broadcast()
}

// commit writes and syncs batch, rotating first whenever the next line
// would take the active file past maxSize, then updates the head file.
// last is the batch's last record. It returns the last record synced.
// Before writing it checks that the file at the log's path is still the
// active file.
func (l *Log) commit(batch []pendingLine, last link) (durable link, err error) {
	if err := l.checkFile(); err != nil {
		return durable, err
	}
	buf := l.buf[:0]
	var bufLast link
	for _, p := range batch {
		if l.size+int64(len(buf)) > 0 && l.size+int64(len(buf)+len(p.line)) > l.maxSize {
			if len(buf) > 0 {
				if err := l.writeSync(buf); err != nil {
					return durable, err
				}
				durable, buf = bufLast, buf[:0]
			}
			if err := l.rotate(); err != nil {
				return durable, err
			}
		}
		buf = append(buf, p.line...)
		bufLast = p.link
	}
	if err := l.writeSync(buf); err != nil {
		return durable, err
	}
	durable = bufLast
	if cap(buf) <= 1<<20 {
		l.buf = buf[:0]
	} else {
		l.buf = nil
	}
	if err := writeHead(&l.head, l.path, last); err != nil {
		if !l.headFailing {
			l.logger.Warn("cannot update audit head file; tail truncation goes undetected until it can", "path", headPath(l.path), "err", err)
		}
		l.headFailing = true
	} else {
		l.headFailing = false
	}
	return durable, nil
}

// writeSync appends b to the active file and fsyncs it. On failure it
// tries to cut the file back so no unsynced partial record stays behind.
func (l *Log) writeSync(b []byte) error {
	if l.f == nil {
		return errors.New("writing audit log: no active file")
	}
	if _, err := l.f.Write(b); err != nil {
		_ = l.f.Truncate(l.size)
		return fmt.Errorf("writing audit log: %w", err)
	}
	l.syncs.Add(1)
	// fdatasync: the record and the file's new size reach the disk, as
	// with fsync, without also waiting for its modification time.
	if err := syscall.Fdatasync(int(l.f.Fd())); err != nil {
		_ = l.f.Truncate(l.size)
		return fmt.Errorf("syncing audit log: %w", err)
	}
	l.size += int64(len(b))
	return nil
}

// Close waits for pending records, closes the log's files and releases its
// lock. Later Writes fail with ErrUnavailable. Close is idempotent.
func (l *Log) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	for l.flushing || (len(l.pending) > 0 && l.fail == nil) {
		l.cond.Wait()
	}
	l.mu.Unlock()
	if err := l.closeFiles(); err != nil {
		return fmt.Errorf("closing audit log: %w", err)
	}
	return nil
}

// closeFiles closes the active file and then the lock.
func (l *Log) closeFiles() error {
	var errs []error
	if l.f != nil {
		errs = append(errs, l.f.Close())
		l.f = nil
	}
	if l.head != nil {
		errs = append(errs, l.head.Close())
		l.head = nil
	}
	if l.lock != nil {
		errs = append(errs, l.lock.Close())
		l.lock = nil
	}
	return errors.Join(errs...)
}
