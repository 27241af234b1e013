// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
)

// maxFieldLen bounds the value of a field the parser keeps; longer
// fields it does not keep (a Description, a file list) are skipped
// whatever their length.
const maxFieldLen = 64 << 10

// errStop, returned by a paragraph callback, ends parsing without error.
var errStop = errors.New("stop")

// paragraph is one deb822 paragraph's wanted fields, in the order of the
// keys the parser was given; a field absent is empty.
type paragraph struct {
	fields []string
	// raw holds the same fields as read, valid until the callback
	// returns; a raw parser fills only raw, sparing a string per field.
	raw [][]byte
	// line is the line the paragraph starts on, from 1.
	line int
}

// controlParser reads deb822 control data (the dpkg status file, apt's
// Packages lists, Release files) as a stream: one paragraph at a time,
// keeping only the fields asked for, so memory stays bounded whatever the
// input's size.
type controlParser struct {
	keys [][]byte
	r    *bufio.Reader
	line int
	// pgp makes the parser read an OpenPGP cleartext-signed message (an
	// InRelease file): the armour header is skipped and the signature
	// ends the data.
	pgp bool
	// raw makes the parser fill only paragraph.raw.
	raw bool
}

// newControlParser returns a parser of r keeping the fields keys (field
// names compare case-insensitively, as deb822 says).
func newControlParser(r io.Reader, keys ...string) *controlParser {
	p := &controlParser{r: bufio.NewReaderSize(r, 64<<10)}
	for _, k := range keys {
		p.keys = append(p.keys, []byte(k))
	}
	return p
}

// readLine returns the next line without its end of line; long reports
// a line longer than the buffer, of which only the start is returned.
func (p *controlParser) readLine() (line []byte, long bool, err error) {
	line, err = p.r.ReadSlice('\n')
	if errors.Is(err, bufio.ErrBufferFull) {
		long = true
		line = bytes.Clone(line)
		for errors.Is(err, bufio.ErrBufferFull) {
			_, err = p.r.ReadSlice('\n')
		}
	}
	if err == io.EOF && len(line) > 0 {
		err = nil
	}
	if err != nil {
		return nil, false, err
	}
	p.line++
	line = bytes.TrimSuffix(line, []byte("\n"))
	line = bytes.TrimSuffix(line, []byte("\r"))
	return line, long, nil
}

// parse calls fn for each paragraph in turn, its fields valid until fn
// returns. A line that is neither a field, a continuation, a comment nor
// blank is an error naming its line number, as is a wanted field longer
// than maxFieldLen.
func (p *controlParser) parse(fn func(*paragraph) error) error {
	par := &paragraph{fields: make([]string, len(p.keys))}
	inPar, current := false, -1
	buf := make([][]byte, len(p.keys))
	flush := func() error {
		if !inPar {
			return nil
		}
		par.raw = buf
		if !p.raw {
			for i, b := range buf {
				par.fields[i] = string(b)
			}
		}
		err := fn(par)
		for i := range buf {
			buf[i] = buf[i][:0]
		}
		inPar, current = false, -1
		return err
	}
	if p.pgp {
		if err := p.skipArmourHeader(); err != nil {
			return err
		}
	}
	for {
		line, long, err := p.readLine()
		if err == io.EOF {
			break
		}
		if err != nil {
			return fmt.Errorf("line %d: %w", p.line+1, err)
		}
		if p.pgp && bytes.HasPrefix(line, []byte("-----BEGIN PGP SIGNATURE")) {
			break
		}
		switch {
		case len(bytes.TrimSpace(line)) == 0 && !long:
			if err := flush(); errors.Is(err, errStop) {
				return nil
			} else if err != nil {
				return err
			}
		case line[0] == ' ' || line[0] == '\t':
			if !inPar {
				return fmt.Errorf("line %d: a continuation line outside a field", p.line)
			}
			if current < 0 {
				continue
			}
			if long || len(buf[current])+len(line) > maxFieldLen {
				return fmt.Errorf("line %d: field %s is longer than %d bytes", p.line, p.keys[current], maxFieldLen)
			}
			buf[current] = append(append(buf[current], '\n'), bytes.TrimSpace(line)...)
		case line[0] == '#':
			continue
		default:
			name, value, ok := bytes.Cut(line, []byte(":"))
			if !ok || len(name) == 0 || hasBlank(name) {
				return fmt.Errorf("line %d: %q is not a field (name: value)", p.line, clip(line))
			}
			if !inPar {
				inPar = true
				par.line = p.line
			}
			current = -1
			for i, k := range p.keys {
				if len(name) == len(k) && bytes.EqualFold(name, k) {
					current = i
					break
				}
			}
			if current < 0 {
				continue
			}
			if long {
				return fmt.Errorf("line %d: field %s is longer than %d bytes", p.line, name, maxFieldLen)
			}
			buf[current] = append(buf[current][:0], bytes.TrimSpace(value)...)
		}
	}
	if err := flush(); err != nil && !errors.Is(err, errStop) {
		return err
	}
	return nil
}

// skipArmourHeader skips an OpenPGP cleartext signature's header, up to
// and with the blank line after its Hash lines, if the data starts with
// one.
func (p *controlParser) skipArmourHeader() error {
	head, err := p.r.Peek(len("-----BEGIN PGP SIGNED MESSAGE-----"))
	if err != nil || string(head) != "-----BEGIN PGP SIGNED MESSAGE-----" {
		return nil
	}
	for {
		line, _, err := p.readLine()
		if err != nil {
			return fmt.Errorf("line %d: an OpenPGP signed message without a body: %w", p.line+1, err)
		}
		if len(bytes.TrimSpace(line)) == 0 {
			return nil
		}
	}
}

// hasBlank reports whether b holds a space or a tab (a byte loop: field
// names are short, and bytes.ContainsAny was a sixth of a list's parse).
func hasBlank(b []byte) bool {
	for _, c := range b {
		if c == ' ' || c == '\t' {
			return true
		}
	}
	return false
}

// clip shortens a line quoted in an error.
func clip(b []byte) []byte {
	if len(b) > 80 {
		return b[:80]
	}
	return b
}
