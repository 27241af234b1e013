// SPDX-License-Identifier: Apache-2.0

package files

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tailops/tailops/tools"
)

type readFileArgs struct {
	Path     string `json:"path" jsonschema_description:"File to read: absolute (inside a file root) or relative to the first root."`
	Offset   *int64 `json:"offset,omitempty" jsonschema_description:"Byte offset to start at; default 0."`
	Limit    *int   `json:"limit,omitempty" jsonschema_description:"Most bytes to read, 1 to 4194304 (4 MiB); default 65536."`
	Encoding string `json:"encoding,omitempty" jsonschema:"enum=text,enum=base64" jsonschema_description:"text (default) refuses binary files; base64 returns any file's bytes base64-encoded."`
}

type readFileResult struct {
	Path string `json:"path" jsonschema_description:"The file, as given."`
	// Content is the bytes read, as UTF-8 text or base64: the result's
	// first text content, sent once (issue 19), not in the structured
	// result.
	Content   string `json:"-"`
	Encoding  string `json:"encoding" jsonschema:"enum=text,enum=base64" jsonschema_description:"How the content (the result's first text) is encoded."`
	Offset    int64  `json:"offset" jsonschema_description:"Offset the content starts at (moved forward past a UTF-8 character the requested offset split)."`
	BytesRead int    `json:"bytes_read" jsonschema_description:"Bytes of the file in the content."`
	Size      int64  `json:"size" jsonschema_description:"File size in bytes when opened."`
	EOF       bool   `json:"eof" jsonschema_description:"The content reaches the end of the file."`
	Link      string `json:"link,omitempty" jsonschema_description:"Set when the content was too large to put in the result (the server's --inline-max): the resource URI that serves it (resources/read); the result's text then says so instead of holding it."`
}

func (fs *fileSystem) readFileSpec() tools.Spec {
	t := fileToolTyped(fs, "read_file", "Read file",
		"Read part of a file inside the file roots, by byte offset and limit (default 64 KiB, at most 4 MiB). Binary files (a NUL byte in the first 8 KiB, or invalid UTF-8) are refused unless encoding is base64. The content is the result's first text, exactly; a second text says where to continue when the read stopped before the end; the structured result has the offsets and sizes.",
		tools.RiskHigh, fs.readFile, renderRead)
	t.Note = func(r readFileResult) string { return noteRead(&r) }
	return t.Spec()
}

func (fs *fileSystem) readFile(_ context.Context, a *readFileArgs) (*readFileResult, error) {
	limit, err := tools.IntArg("limit", a.Limit, readDefaultLimit, 1, readMaxLimit)
	if err != nil {
		return nil, err
	}
	var offset int64
	if a.Offset != nil {
		if offset = *a.Offset; offset < 0 {
			return nil, tools.ArgErrorf("offset", "must not be negative (got %d)", offset)
		}
	}
	enc := a.Encoding
	switch enc {
	case "":
		enc = "text"
	case "text", "base64":
	default:
		return nil, tools.ArgErrorf("encoding", "must be text or base64 (got %q)", enc)
	}
	if err := checkPathArg(a.Path); err != nil {
		return nil, err
	}
	n, err := fs.openRegular(a.Path)
	if err != nil {
		return nil, err
	}
	defer n.close()

	size := n.st.Size
	want := limit
	if size > 0 {
		want = int(min(int64(limit), max(size-offset, 0)))
	}
	buf := make([]byte, want)
	k, err := fs.readAt(n, buf, offset)
	if err != nil {
		return nil, readFailed(a.Path, "cannot read", err)
	}
	buf = buf[:k]
	if enc == "text" {
		// The file's head decides whether it is text. A read from the
		// start that reached sniffLen bytes or the end holds it; any
		// other reads it apart.
		head := buf[:min(k, sniffLen)]
		holdsHead := offset == 0 && (k >= sniffLen || k < want || size > 0 && int64(k) >= size)
		if !holdsHead {
			head = make([]byte, sniffLen)
			hk, err := fs.readAt(n, head, 0)
			if err != nil {
				return nil, readFailed(a.Path, "cannot read", err)
			}
			head = head[:hk]
		}
		if looksBinary(head) {
			return nil, badPath(a.Path, "binary file (NUL byte in the first 8 KiB); use encoding base64")
		}
	}
	eof := k < limit || offset+int64(k) >= size
	res := &readFileResult{Path: a.Path, Encoding: enc, Offset: offset, Size: size}
	if enc == "base64" {
		res.Content, res.BytesRead, res.EOF = base64.StdEncoding.EncodeToString(buf), k, eof
		return res, nil
	}
	// Text: step past a character the offset split, and stop before one
	// the limit splits, so that consecutive reads join up.
	if offset > 0 {
		for i := 0; i < utf8.UTFMax-1 && len(buf) > 0 && !utf8.RuneStart(buf[0]); i++ {
			buf = buf[1:]
			res.Offset++
		}
	}
	if !eof {
		buf = trimPartialRune(buf)
	}
	if !utf8.Valid(buf) {
		return nil, badPath(a.Path, "not valid UTF-8 text; use encoding base64")
	}
	res.Content, res.BytesRead = string(buf), len(buf)
	res.EOF = res.Offset+int64(len(buf)) >= size && eof
	return res, nil
}

// renderRead is read_file's text: the content, exactly.
func renderRead(r *readFileResult) string { return r.Content }

// noteRead is read_file's second text, where to continue, when the read
// stopped before the end.
func noteRead(r *readFileResult) string {
	if r.EOF {
		return ""
	}
	next := r.Offset + int64(r.BytesRead)
	return fmt.Sprintf("[%s: read %d bytes from offset %d of %d; continue with offset %d]\n", r.Path, r.BytesRead, r.Offset, r.Size, next)
}

type tailFileArgs struct {
	Path  string `json:"path" jsonschema_description:"File to read the end of: absolute (inside a file root) or relative to the first root."`
	Lines *int   `json:"lines,omitempty" jsonschema_description:"Number of lines from the end, 1 to 10000; default 100."`
}

type tailFileResult struct {
	Path string `json:"path" jsonschema_description:"The file, as given."`
	// Content is the last lines, as UTF-8 text (invalid bytes replaced by
	// U+FFFD): the result's first text, sent once, not in the structured
	// result.
	Content   string `json:"-"`
	Lines     int    `json:"lines" jsonschema_description:"Number of lines in the content (the result's first text)."`
	BytesRead int64  `json:"bytes_read" jsonschema_description:"Bytes read from the end of the file."`
	Size      int64  `json:"size" jsonschema_description:"File size in bytes when opened."`
	Truncated bool   `json:"truncated" jsonschema_description:"Fewer lines than asked for because tail_file reads at most 4 MiB; the file has more."`
}

func (fs *fileSystem) tailFileSpec() tools.Spec {
	t := fileToolTyped(fs, "tail_file", "Tail file",
		"Return the last lines of a text file inside the file roots (default 100, at most 10000), reading backwards from the end: cheap on large logs, and never more than 4 MiB. The lines are the result's first text, exactly; a second text says when fewer lines fitted in 4 MiB.",
		tools.RiskHigh, fs.tailFile, renderTail)
	t.Note = func(r tailFileResult) string { return noteTail(&r) }
	return t.Spec()
}

func (fs *fileSystem) tailFile(_ context.Context, a *tailFileArgs) (*tailFileResult, error) {
	lines, err := tools.IntArg("lines", a.Lines, tailDefaultLines, 1, tailMaxLines)
	if err != nil {
		return nil, err
	}
	if err := checkPathArg(a.Path); err != nil {
		return nil, err
	}
	n, err := fs.openRegular(a.Path)
	if err != nil {
		return nil, err
	}
	defer n.close()

	size := n.st.Size
	data, start, capped, err := fs.tailBytes(n, size, lines)
	if err != nil {
		return nil, readFailed(a.Path, "cannot read", err)
	}
	res := &tailFileResult{Path: a.Path, Size: size, BytesRead: int64(len(data)), Truncated: capped}
	data = data[start:]
	if bytes.IndexByte(data, 0) >= 0 {
		return nil, badPath(a.Path, "binary file (NUL byte in its last lines); use read_file with encoding base64")
	}
	res.Content = strings.ToValidUTF8(string(data), "\uFFFD")
	res.Lines = strings.Count(res.Content, "\n")
	if res.Content != "" && !strings.HasSuffix(res.Content, "\n") {
		res.Lines++
	}
	return res, nil
}

// tailBytes reads backwards from size in chunks until it has seen enough
// newlines for lines lines (a final newline does not count) or read
// tailMaxBytes: see tailScan.
func (fs *fileSystem) tailBytes(n *node, size int64, lines int) (data []byte, start int, capped bool, err error) {
	return tailScan(func(b []byte, off int64) (int, error) { return fs.readAt(n, b, off) },
		size, lines, tailFirstChunk, tailChunk, tailMaxBytes)
}

// tailScan reads backwards from size through readAt, first a chunk of
// first bytes, then each twice the last up to chunk (most tails are a few
// KB: the call allocates what it needs, not 64 KiB), until it has seen
// enough newlines for lines lines (a final newline does not count) or read
// most bytes. It returns the bytes read, which end at size, where in them
// the wanted lines start, and whether the byte cap stopped it first; then
// the cut first line is dropped when a whole line follows.
func tailScan(readAt func(b []byte, off int64) (int, error), size int64, lines int, first, chunk, most int64) (data []byte, start int, capped bool, err error) {
	var chunks [][]byte
	pos, seen, found := size, 0, int64(-1)
	for next := first; pos > 0 && size-pos < most && found < 0; next = min(2*next, chunk) {
		sz := min(next, pos, most-(size-pos))
		pos -= sz
		buf := make([]byte, sz)
		k, err := readAt(buf, pos)
		if err != nil {
			return nil, 0, false, err
		}
		if int64(k) < sz {
			return nil, 0, false, fmt.Errorf("reading tail: file shrank")
		}
		chunks = append(chunks, buf)
		for i := len(buf); ; {
			if i = bytes.LastIndexByte(buf[:i], '\n'); i < 0 {
				break
			}
			if pos+int64(i) == size-1 {
				continue
			}
			if seen++; seen == lines {
				found = pos + int64(i) + 1
				break
			}
		}
	}
	if len(chunks) == 1 {
		data = chunks[0]
	} else {
		slices.Reverse(chunks)
		data = bytes.Join(chunks, nil)
	}
	switch {
	case found >= 0:
		return data, int(found - pos), false, nil
	case pos == 0:
		return data, 0, false, nil
	}
	if i := bytes.IndexByte(data, '\n'); i >= 0 && i < len(data)-1 {
		return data, i + 1, true, nil
	}
	return data, 0, true, nil
}

// renderTail is tail_file's text: the lines, exactly.
func renderTail(r *tailFileResult) string { return r.Content }

// noteTail is tail_file's second text when the byte cap gave fewer lines.
func noteTail(r *tailFileResult) string {
	if !r.Truncated {
		return ""
	}
	return fmt.Sprintf("[%s: only %d lines fit in the %d bytes tail_file reads]\n", r.Path, r.Lines, tailMaxBytes)
}
