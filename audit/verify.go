// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"bufio"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
)

// Problem is the first break Verify found in a log.
type Problem struct {
	// File is the file holding the broken record, or the head file.
	File string
	// Line is the 1-based line in File; 0 when the problem is not a line.
	Line int
	// Seq is the broken record's seq, when it could be read.
	Seq uint64
	// Reason says what is wrong, e.g. "record 17: prev hash does not match
	// record 16".
	Reason string
}

// String formats p as "file:line: reason".
func (p *Problem) String() string {
	return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Reason)
}

// Verify checks the hash chain of an audit log and returns how many
// records it found intact and the first problem, or a nil problem when the
// whole log is intact. err is for I/O failures only.
//
// With one path, Verify checks the log at that path: its rotated siblings
// and then the path itself (see Files). With several, it checks them as one
// chain in the order given. Either way the chain must start at seq 1 with
// Prev 64 zeros, each record must have the next seq and the hash of the
// line before it as Prev, and every line must be a complete JSON record.
// When a head file sits beside the last path, the log must reach the
// head's seq and the record there must have the head's hash.
//
// Verify may run while a server writes the log: it reads the head before
// the files and keeps each file open once found, retrying if a rotation
// happens while it lists them. A record being written at that moment can
// still, rarely, show as an incomplete last line; verify again.
func Verify(paths ...string) (records int, problem *Problem, err error) {
	if len(paths) == 0 {
		return 0, nil, errors.New("verifying audit log: no files given")
	}
	active := paths[len(paths)-1]
	h, err := readHead(active)
	if errors.Is(err, errBadHead) {
		return 0, &Problem{File: headPath(active), Reason: `head file is not {"seq":N,"hash":"<64 hex>"}`}, nil
	}
	if err != nil {
		return 0, nil, fmt.Errorf("verifying audit log: %w", err)
	}
	var files []*os.File
	if len(paths) == 1 {
		files, err = openChain(paths[0])
	} else {
		files, err = openFiles(paths)
	}
	if err != nil {
		return 0, nil, fmt.Errorf("verifying audit log: %w", err)
	}
	defer closeAll(files)

	v := verifier{head: h, lastFile: active}
	for _, f := range files {
		p, err := v.file(f)
		if err != nil {
			return v.records, nil, fmt.Errorf("verifying audit log: reading %s: %w", f.Name(), err)
		}
		if p != nil {
			return v.records, p, nil
		}
	}
	return v.records, v.end(), nil
}

// openChain opens the files of the log at path, retrying when a rotation
// changes them between listing and opening.
func openChain(path string) ([]*os.File, error) {
	const attempts = 5
	for i := 1; ; i++ {
		names, err := Files(path)
		if err != nil {
			return nil, err
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("no audit log at %s: %w", path, fs.ErrNotExist)
		}
		files, err := openFiles(names)
		if errors.Is(err, fs.ErrNotExist) {
			// A file listed a moment ago was renamed or removed: rotation.
			if i < attempts {
				continue
			}
			return nil, fmt.Errorf("%s kept rotating while being opened; try again", path)
		}
		if err != nil {
			return nil, err
		}
		again, err := Files(path)
		if err != nil {
			closeAll(files)
			return nil, err
		}
		if slices.Equal(names, again) {
			return files, nil
		}
		closeAll(files)
		if i == attempts {
			return nil, fmt.Errorf("%s kept rotating while being opened; try again", path)
		}
	}
}

// openFiles opens names for reading, all or none.
func openFiles(names []string) ([]*os.File, error) {
	files := make([]*os.File, 0, len(names))
	for _, n := range names {
		f, err := os.Open(n)
		if err != nil {
			closeAll(files)
			return nil, err
		}
		files = append(files, f)
	}
	return files, nil
}

func closeAll(files []*os.File) {
	for _, f := range files {
		f.Close()
	}
}

// verifier walks a chain across files.
type verifier struct {
	head     *head
	records  int
	last     link
	lastFile string
	lastLine int
}

// file checks the records of one file.
func (v *verifier) file(f *os.File) (*Problem, error) {
	name := f.Name()
	v.lastFile, v.lastLine = name, 0
	br := bufio.NewReaderSize(f, 256<<10)
	for n := 1; ; n++ {
		line, err := br.ReadBytes('\n')
		if err == io.EOF {
			if len(line) == 0 {
				return nil, nil
			}
			seq, _, _ := parseLink(line)
			return &Problem{File: name, Line: n, Seq: seq,
				Reason: fmt.Sprintf("line %d: incomplete record at end of file (no trailing newline)", n)}, nil
		}
		if err != nil {
			return nil, err
		}
		if p := v.line(name, n, line[:len(line)-1]); p != nil {
			return p, nil
		}
	}
}

// line checks one record, the n-th line of file name.
func (v *verifier) line(name string, n int, body []byte) *Problem {
	seq, prev, reason := parseLink(body)
	if reason != "" {
		return &Problem{File: name, Line: n, Reason: fmt.Sprintf("line %d: %s", n, reason)}
	}
	problem := func(format string, args ...any) *Problem {
		return &Problem{File: name, Line: n, Seq: seq, Reason: fmt.Sprintf(format, args...)}
	}
	switch {
	case v.records == 0 && seq != 1:
		return problem("record %d: chain starts at seq %d, not 1 (earlier records missing)", seq, seq)
	case v.records == 0 && prev != genesis:
		return problem("record 1: prev is not 64 zeros (the first record has no predecessor)")
	case v.records > 0 && seq > v.last.seq+1:
		return problem("record %d: seq %d follows %d (records missing)", seq, seq, v.last.seq)
	case v.records > 0 && seq <= v.last.seq:
		return problem("record %d: seq %d follows %d (duplicate or out of order)", seq, seq, v.last.seq)
	case v.records > 0 && prev != v.last.hexHash():
		return problem("record %d: prev hash does not match record %d", seq, v.last.seq)
	}
	hash := sha256.Sum256(body)
	if v.head != nil && seq == v.head.Seq && hex.EncodeToString(hash[:]) != v.head.Hash {
		return problem("record %d: hash does not match the head file (last record altered)", seq)
	}
	v.last = link{seq: seq, hash: hash}
	v.records++
	v.lastLine = n
	return nil
}

// end checks, after the last record, that none were cut off the end.
func (v *verifier) end() *Problem {
	if v.head == nil || v.last.seq >= v.head.Seq {
		return nil
	}
	return &Problem{File: v.lastFile, Line: v.lastLine, Seq: v.last.seq,
		Reason: fmt.Sprintf("file ends at seq %d but head says %d (records deleted at the end)", v.last.seq, v.head.Seq)}
}
