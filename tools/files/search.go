// SPDX-License-Identifier: Apache-2.0

package files

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"

	"golang.org/x/sys/unix"

	"github.com/tailops/tailops/tools"
)

type searchFilesArgs struct {
	Path           string   `json:"path" jsonschema_description:"Directory to search: absolute (inside a file root) or relative to the first root."`
	NameGlob       string   `json:"name_glob,omitempty" jsonschema_description:"Glob matched against entry names (not paths), e.g. *.log. With content_regex, only files whose names match are searched."`
	ContentRegex   string   `json:"content_regex,omitempty" jsonschema_description:"Go RE2 regular expression matched against each line of regular files; binary files are skipped."`
	MaxResults     *int     `json:"max_results,omitempty" jsonschema_description:"Stop after this many matches, 1 to 10000; default 100."`
	MaxDepth       *int     `json:"max_depth,omitempty" jsonschema_description:"Directory levels to descend, 1 (only the directory's own entries) to 64; default 8."`
	MaxBytes       *int64   `json:"max_bytes,omitempty" jsonschema_description:"Stop after reading this many bytes of file contents, 1 to 1073741824; default 67108864 (64 MiB)."`
	TimeoutSeconds *float64 `json:"timeout_seconds,omitempty" jsonschema_description:"Stop after this many seconds, above 0 and at most 60; default 10."`
}

type searchMatch struct {
	Path string `json:"path" jsonschema_description:"Path of the matching entry: the searched path as given, joined with the entry's path below it."`
	Type string `json:"type" jsonschema:"enum=file,enum=dir,enum=symlink,enum=other" jsonschema_description:"Entry type."`
	Line int    `json:"line,omitempty" jsonschema_description:"For a content match: the line number, from 1."`
	Text string `json:"text,omitempty" jsonschema_description:"For a content match: the line, cut to 500 bytes."`
}

type searchFilesResult struct {
	Path          string        `json:"path" jsonschema_description:"The directory searched, as given."`
	Matches       []searchMatch `json:"matches" jsonschema_description:"Matches in walk order (names sorted, depth first)."`
	Complete      bool          `json:"complete" jsonschema_description:"The search covered everything: no bound stopped or limited it."`
	StoppedBy     string        `json:"stopped_by,omitempty" jsonschema:"enum=max_results,enum=max_depth,enum=max_bytes,enum=timeout" jsonschema_description:"The bound that stopped the search; max_depth means the walk finished but left deeper directories out."`
	DirsWalked    int           `json:"dirs_walked" jsonschema_description:"Directories read."`
	DirsCut       int           `json:"dirs_cut,omitempty" jsonschema_description:"Directories of more than 100000 entries, of which only the first 100000 were looked at: the search is then not complete."`
	FilesScanned  int           `json:"files_scanned" jsonschema_description:"Files whose contents were read."`
	BytesScanned  int64         `json:"bytes_scanned" jsonschema_description:"Bytes of file contents read."`
	SkippedDenied int           `json:"skipped_denied" jsonschema_description:"Entries skipped by the deny-list or the hard-link policy."`
	SkippedBinary int           `json:"skipped_binary" jsonschema_description:"Files skipped as binary (a NUL byte in the first 8 KiB)."`
	SkippedOther  int           `json:"skipped_other" jsonschema_description:"Entries skipped otherwise: symlinks (never followed), special files, unreadable entries."`
}

// Search stop reasons. A cancelled search returns no result but an
// error saying how far it got (searchFiles).
const (
	stopResults   = "max_results"
	stopDepth     = "max_depth"
	stopBytes     = "max_bytes"
	stopTimeout   = "timeout"
	stopCancelled = "cancelled"
)

func (fs *fileSystem) searchFilesSpec() tools.Spec {
	t := fileToolTyped(fs, "search_files", "Search files",
		"Search a directory tree inside the file roots by entry name (glob) and/or line content (RE2 regular expression). Symlinks are not followed; denied files are skipped and counted. Bounded by max_results, max_depth, max_bytes and timeout_seconds; the result says which bound stopped it. A search over a large tree may run as an MCP task; cancelling it stops the search.",
		tools.RiskHigh, fs.searchFiles, renderSearch)
	t.Task = true // a large tree takes up to timeout_seconds
	return t.Spec()
}

// searcher is the state of one search_files call.
type searcher struct {
	fs         *fileSystem
	ctx        context.Context // carries the timeout
	parent     context.Context // the call's own context, to tell cancellation from timeout
	progress   *tools.Progress // directories and files read so far; nil reports nothing
	reported   time.Time       // when progress was last reported
	glob       string
	re         *regexp.Regexp
	reLine     int // bytes of a line re is matched against (compileSearch)
	maxResults int
	maxDepth   int
	maxBytes   int64
	res        *searchFilesResult
	stop       string
	depthCut   bool
	line       []byte
	br         *bufio.Reader
}

func (fs *fileSystem) searchFiles(ctx context.Context, a *searchFilesArgs) (*searchFilesResult, error) {
	s := &searcher{fs: fs, parent: ctx, glob: a.NameGlob, progress: tools.ProgressFrom(ctx)}
	var err error
	if s.maxResults, err = tools.IntArg("max_results", a.MaxResults, searchDefaultMax, 1, searchMaxResults); err != nil {
		return nil, err
	}
	if s.maxDepth, err = tools.IntArg("max_depth", a.MaxDepth, searchDefaultDepth, 1, searchMaxDepth); err != nil {
		return nil, err
	}
	s.maxBytes = searchDefaultBytes
	if a.MaxBytes != nil {
		if s.maxBytes = *a.MaxBytes; s.maxBytes < 1 || s.maxBytes > searchMaxBytes {
			return nil, tools.ArgErrorf("max_bytes", "must be between 1 and %d (got %d)", searchMaxBytes, s.maxBytes)
		}
	}
	timeout := searchDefaultTime
	if a.TimeoutSeconds != nil {
		t := *a.TimeoutSeconds
		if !(t > 0 && t <= searchMaxTime.Seconds()) {
			return nil, tools.ArgErrorf("timeout_seconds", "must be above 0 and at most %g (got %g)", searchMaxTime.Seconds(), t)
		}
		timeout = time.Duration(t * float64(time.Second))
	}
	if a.NameGlob == "" && a.ContentRegex == "" {
		return nil, tools.ArgErrorf("name_glob", "name_glob or content_regex is required")
	}
	if a.NameGlob != "" {
		if _, err := filepath.Match(a.NameGlob, ""); err != nil {
			return nil, tools.ArgErrorf("name_glob", "invalid glob %q", a.NameGlob)
		}
	}
	if a.ContentRegex != "" {
		if s.re, s.reLine, err = compileSearch(a.ContentRegex); err != nil {
			return nil, err
		}
	}
	if err := checkPathArg(a.Path); err != nil {
		return nil, err
	}
	dir, err := fs.open(a.Path, openDir)
	if err != nil {
		return nil, err
	}
	defer dir.close()

	var cancel context.CancelFunc
	s.ctx, cancel = context.WithTimeout(ctx, timeout)
	defer cancel()
	s.res = &searchFilesResult{Path: a.Path, Matches: []searchMatch{}}
	s.walk(dir, a.Path, 1)
	if s.stop == stopCancelled {
		// Nobody waits for a partial result; the error tells the audit
		// record (and a task's tasks/result) how far the search got.
		return nil, fmt.Errorf("search_files was cancelled (directories read: %d, files read: %d, matches: %d): %w",
			s.res.DirsWalked, s.res.FilesScanned, len(s.res.Matches), context.Cause(ctx))
	}
	s.report(true)
	if s.stop == "" && s.depthCut {
		s.stop = stopDepth
	}
	s.res.StoppedBy, s.res.Complete = s.stop, s.stop == "" && s.res.DirsCut == 0
	return s.res, nil
}

// stopped reports whether a bound has stopped the search, noticing the
// timeout and cancellation.
func (s *searcher) stopped() bool {
	if s.stop != "" {
		return true
	}
	if s.ctx.Err() != nil {
		s.stop = stopTimeout
		if s.parent.Err() != nil {
			s.stop = stopCancelled
		}
		return true
	}
	return false
}

// report sends the search's progress: directories and files read, a
// count that only grows (final: the last report, sent whatever the time
// when the count grew).
func (s *searcher) report(final bool) {
	if s.progress == nil || (!final && time.Since(s.reported) < searchReportEvery) {
		return
	}
	s.reported = time.Now()
	r := s.res
	s.progress.Report(float64(r.DirsWalked+r.FilesScanned), 0,
		fmt.Sprintf("searched %d directories and %d files; %d matches", r.DirsWalked, r.FilesScanned, len(r.Matches)), final)
}

func (s *searcher) add(m searchMatch) {
	s.res.Matches = append(s.res.Matches, m)
	if len(s.res.Matches) >= s.maxResults {
		s.stop = stopResults
	}
}

// walk searches the open directory dir, shown as display, whose entries
// are at depth depth. Children are opened relative to dir and never
// through symlinks (in the checked build).
func (s *searcher) walk(dir *node, display string, depth int) {
	names, whole, err := readNames(dir, listMaxScan)
	if err != nil {
		s.res.SkippedOther++
		return
	}
	if !whole {
		s.res.DirsCut++
	}
	s.res.DirsWalked++
	s.report(false)
	slices.Sort(names)
	for _, name := range names {
		if s.stopped() {
			return
		}
		if s.fs.childDenied(dir, name) {
			s.res.SkippedDenied++
			continue
		}
		var st unix.Stat_t
		flags := unix.AT_SYMLINK_NOFOLLOW
		if followsSymlinksInWalks {
			flags = 0
		}
		if err := unix.Fstatat(dir.fd, name, &st, flags); err != nil {
			s.res.SkippedOther++
			continue
		}
		if s.fs.protectedEntry(uint64(st.Dev), st.Ino) {
			s.res.SkippedDenied++
			continue
		}
		p := path.Join(display, name)
		typ := fileType(st.Mode)
		nameOK := s.glob == ""
		if !nameOK {
			nameOK, _ = filepath.Match(s.glob, name)
		}
		if nameOK && s.re == nil {
			s.add(searchMatch{Path: p, Type: typ})
		}
		switch {
		case typ == "dir":
			if depth >= s.maxDepth {
				s.depthCut = true
				continue
			}
			child, err := s.fs.openChild(dir, name, openDir)
			if err != nil {
				s.res.SkippedOther++
				continue
			}
			s.walk(child, p, depth+1)
			child.close()
		case s.re == nil || !nameOK:
		case typ == "file":
			s.scan(dir, name, p)
		default:
			s.res.SkippedOther++
		}
	}
}

// scan searches the lines of the regular file name in dir.
func (s *searcher) scan(dir *node, name, display string) {
	left := s.maxBytes - s.res.BytesScanned
	if left <= 0 {
		s.stop = stopBytes
		return
	}
	f, err := s.fs.openChild(dir, name, openFile)
	if err != nil {
		s.res.SkippedOther++ // gone, unreadable, or swapped for a symlink
		return
	}
	defer f.close()
	if !isRegular(&f.st) {
		s.res.SkippedOther++
		return
	}
	if s.fs.contentPolicy(display, f) != nil {
		s.res.SkippedDenied++
		return
	}
	var read int64
	src := io.LimitReader(&nodeReader{n: f, fs: s.fs, read: &read}, left)
	if s.br == nil {
		s.br = bufio.NewReaderSize(src, 64<<10)
	} else {
		s.br.Reset(src)
	}
	defer func() { s.res.BytesScanned += read }()
	head, _ := s.br.Peek(sniffLen)
	if looksBinary(head) {
		s.res.SkippedBinary++
		return
	}
	s.res.FilesScanned++
	s.report(false)
	for lineNo := 1; ; lineNo++ {
		if lineNo%64 == 0 && s.stopped() {
			return
		}
		line, err := s.readLine()
		if len(line) > 4096 && s.stopped() { // a long line's match may take a while: check first
			return
		}
		if len(line) > 0 || err == nil {
			if s.re.Match(line[:min(len(line), s.reLine)]) {
				s.add(searchMatch{Path: display, Type: "file", Line: lineNo, Text: lineText(line)})
				if s.stop != "" {
					return
				}
			}
		}
		if err != nil {
			if errors.Is(err, io.EOF) && read >= left && read < f.st.Size {
				s.stop = stopBytes
			}
			return
		}
	}
}

// readLine returns the next line without its newline, keeping at most
// searchMaxLine bytes of a longer one.
func (s *searcher) readLine() ([]byte, error) {
	s.line = s.line[:0]
	for {
		chunk, err := s.br.ReadSlice('\n')
		if room := searchMaxLine - len(s.line); room > 0 {
			s.line = append(s.line, chunk[:min(len(chunk), room)]...)
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return bytes.TrimSuffix(s.line, []byte{'\n'}), err
		}
	}
}

// lineText cuts a matching line for the result, on a character boundary,
// and makes it valid UTF-8.
func lineText(line []byte) string {
	line = bytes.TrimSuffix(line, []byte{'\r'})
	if len(line) > searchLineText {
		line = trimPartialRune(line[:searchLineText])
	}
	return strings.ToValidUTF8(string(line), "\uFFFD")
}

func renderSearch(r *searchFilesResult) string {
	var b strings.Builder
	for _, m := range r.Matches {
		if m.Line > 0 {
			fmt.Fprintf(&b, "%s:%d: %s\n", m.Path, m.Line, m.Text)
		} else {
			fmt.Fprintf(&b, "%s (%s)\n", m.Path, m.Type)
		}
	}
	fmt.Fprintf(&b, "[%d matches; %d files, %d bytes scanned in %d directories; skipped %d denied, %d binary, %d other",
		len(r.Matches), r.FilesScanned, r.BytesScanned, r.DirsWalked, r.SkippedDenied, r.SkippedBinary, r.SkippedOther)
	if r.StoppedBy != "" {
		fmt.Fprintf(&b, "; stopped by %s", r.StoppedBy)
	}
	if r.DirsCut > 0 {
		fmt.Fprintf(&b, "; %d directories of more than %d entries looked at in part", r.DirsCut, listMaxScan)
	}
	b.WriteString("]\n")
	return b.String()
}

// compileSearch compiles a content_regex (tools.CompileRegex) and
// returns it with the bytes of a line it is matched against: at most
// searchMaxLine.
func compileSearch(expr string) (*regexp.Regexp, int, error) {
	re, n, err := tools.CompileRegex("content_regex", expr)
	return re, min(searchMaxLine, n), err
}
