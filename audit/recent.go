// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"bytes"
	"fmt"
	"os"
	"slices"
)

// Recent returns the last n complete records of the log at path, oldest
// first, each its JSON line as the log holds it (redacted when it was
// written). When the active file holds fewer, the rotated files are read
// too, newest first. It reads at most maxBytes from the files' ends, so
// it may return fewer than n when records are large; a torn last line (a
// write in progress or interrupted) is left out. It takes no lock and
// reads what is durable or about to be: records are only ever appended.
func Recent(path string, n int, maxBytes int64) ([][]byte, error) {
	files, err := Files(path)
	if err != nil {
		return nil, err
	}
	var out [][]byte // newest first
	for i := len(files) - 1; i >= 0 && len(out) < n && maxBytes > 0; i-- {
		lines, read, err := lastLines(files[i], n-len(out), maxBytes)
		if err != nil {
			return nil, fmt.Errorf("reading the audit log: %w", err)
		}
		out = append(out, lines...)
		maxBytes -= read
	}
	slices.Reverse(out)
	return out, nil
}

// lastLines returns the last n complete lines of the file at path,
// newest first, reading at most maxBytes (rounded up to a chunk) from
// its end (whole chunks of readBack), and how many bytes it read.
func lastLines(path string, n int, maxBytes int64) (lines [][]byte, read int64, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, 0, err
	}
	pos := fi.Size()
	var buf []byte // the file's bytes [pos, end of what is not yet taken)
	tornCut := false
	for {
		for len(lines) < n {
			j := bytes.LastIndexByte(buf, '\n')
			if !tornCut {
				// Whatever follows the last newline is not a whole record.
				if j < 0 && pos > 0 {
					break
				}
				buf, tornCut = buf[:max(j, 0)], true
				continue
			}
			if j < 0 {
				if pos == 0 && len(buf) > 0 {
					lines = append(lines, bytes.Clone(buf))
					buf = nil
				}
				break
			}
			if len(buf) > j+1 {
				lines = append(lines, bytes.Clone(buf[j+1:]))
			}
			buf = buf[:j]
		}
		if len(lines) >= n || pos == 0 || read >= maxBytes {
			return lines, read, nil
		}
		before := pos
		if pos, buf, err = readBack(f, pos, buf); err != nil {
			return nil, read, err
		}
		read += before - pos
	}
}
