// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Bounds of the vulnerability data kept from the security tracker's JSON:
// only the installed source packages' entries for one release are kept,
// and these cap even those, so memory stays bounded whatever the feed.
const (
	// maxTrackerEntries is the most CVE entries kept in all.
	maxTrackerEntries = 200_000
	// maxDescriptionLen is the longest description kept, in bytes.
	maxDescriptionLen = 300
	// maxTrackerDepth is the deepest nesting skipped values may have.
	maxTrackerDepth = 64
	// maxTrackerValue bounds what the decoder may hold at once: one
	// token, or one CVE object decoded whole (a few KiB in the tracker's
	// data).
	maxTrackerValue = 4 << 20
)

// trackerEntry is one CVE of a source package in one release, as the
// Debian security tracker's JSON has it.
type trackerEntry struct {
	// CVE is the id: CVE-YYYY-N, or TEMP-… for one without a CVE.
	CVE         string
	Description string
	// Scope is "local" or "remote" when the tracker knows.
	Scope string
	// Status is "resolved", "open" or "undetermined".
	Status string
	// Fixed is the first fixed source version in the release; "" when
	// none ("<unfixed>"), "0" when the release was never affected.
	Fixed string
	// Urgency is the tracker's: unimportant, low, medium, high, "not yet
	// assigned", end-of-life, with the tracker's marks (*) removed.
	Urgency string
	// NoDSA is the tracker's reason no advisory will be issued ("Minor
	// issue", "postponed", "ignored"…); "" when none was given.
	NoDSA string
}

// trackerData is the security tracker's data for one release, kept only
// for the source packages asked for.
type trackerData struct {
	Release string
	// Packages maps a source package to its entries in the release.
	Packages map[string][]trackerEntry
	// Entries counts the entries kept; Sources the source packages the
	// feed has in all.
	Entries, Sources int
}

// trackerCVE is one CVE object of the feed.
type trackerCVE struct {
	Description string                    `json:"description"`
	Scope       string                    `json:"scope"`
	Releases    map[string]trackerRelease `json:"releases"`
}

// trackerRelease is a CVE's state in one release.
type trackerRelease struct {
	Status       string `json:"status"`
	FixedVersion string `json:"fixed_version"`
	Urgency      string `json:"urgency"`
	NoDSA        string `json:"nodsa"`
	NoDSAReason  string `json:"nodsa_reason"`
}

// TrackerFormatError is vulnerability data that is not the security
// tracker's JSON: where it went wrong, and what.
type TrackerFormatError struct {
	// Offset is the input offset, in bytes, the decoder had reached.
	Offset int64
	Err    error
}

func (e *TrackerFormatError) Error() string {
	return fmt.Sprintf("not the Debian security tracker's JSON (near byte %d: %v): the data must be the object "+
		"https://security-tracker.debian.org/tracker/data/json serves, package → CVE → {description, scope, releases}", e.Offset, e.Err)
}

func (e *TrackerFormatError) Unwrap() error { return e.Err }

// parseTracker streams the security tracker's JSON from r, keeping the
// entries of release for the source packages want accepts. It decodes
// token by token: a package not wanted is skipped without being held, so
// memory grows with what is kept, not with the feed.
func parseTracker(ctx context.Context, r io.Reader, release string, want func(source string) bool) (*trackerData, error) {
	br := &boundedReader{r: r}
	dec := json.NewDecoder(br)
	br.parsed = dec.InputOffset
	d := &trackerData{Release: release, Packages: map[string][]trackerEntry{}}
	bad := func(err error) error {
		if ctx.Err() != nil {
			return fmt.Errorf("reading the vulnerability data: %w", ctx.Err())
		}
		var se *json.SyntaxError
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.As(err, &se) || errors.As(err, new(*json.UnmarshalTypeError)) ||
			errors.Is(err, errTrackerShape) || errors.Is(err, errValueTooLarge) {
			return &TrackerFormatError{Offset: dec.InputOffset(), Err: err}
		}
		return fmt.Errorf("reading the vulnerability data: %w", err)
	}
	if err := expectDelim(dec, '{'); err != nil {
		return nil, bad(err)
	}
	for dec.More() {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("reading the vulnerability data: %w", err)
		}
		src, err := stringKey(dec)
		if err != nil {
			return nil, bad(err)
		}
		d.Sources++
		if err := expectDelim(dec, '{'); err != nil {
			return nil, bad(fmt.Errorf("package %q: %w", clipUTF8(src, 64), err))
		}
		if !want(src) {
			if err := skipValue(dec, 1); err != nil {
				return nil, bad(err)
			}
			continue
		}
		for dec.More() {
			id, err := stringKey(dec)
			if err != nil {
				return nil, bad(err)
			}
			var c trackerCVE
			if err := dec.Decode(&c); err != nil {
				return nil, bad(fmt.Errorf("package %q, %q: %w", clipUTF8(src, 64), clipUTF8(id, 64), err))
			}
			rel, ok := c.Releases[release]
			if !ok {
				continue // the release does not have the package, or the tracker does not track it there
			}
			if d.Entries >= maxTrackerEntries {
				return nil, fmt.Errorf("reading the vulnerability data: more than %d entries for the installed packages: not the security tracker's data", maxTrackerEntries)
			}
			d.Entries++
			nodsa := rel.NoDSA
			if rel.NoDSAReason != "" {
				nodsa = strings.TrimSpace(nodsa + " (" + rel.NoDSAReason + ")")
			}
			d.Packages[src] = append(d.Packages[src], trackerEntry{
				CVE: clipUTF8(id, 64), Description: clipUTF8(c.Description, maxDescriptionLen), Scope: clipUTF8(c.Scope, 16),
				Status: clipUTF8(rel.Status, 32), Fixed: clipUTF8(rel.FixedVersion, maxVersionLen),
				Urgency: clipUTF8(strings.TrimRight(rel.Urgency, "*"), 32), NoDSA: clipUTF8(nodsa, 128)})
		}
		if _, err := dec.Token(); err != nil { // the package's closing '}'
			return nil, bad(err)
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, bad(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, bad(fmt.Errorf("%w: data after the top-level object", errTrackerShape))
	}
	return d, nil
}

// errValueTooLarge is a single value larger than maxTrackerValue.
var errValueTooLarge = fmt.Errorf("%w: a single value larger than %d MiB", errTrackerShape, maxTrackerValue>>20)

// boundedReader feeds the decoder, failing once it would hold more than
// maxTrackerValue bytes it has not parsed yet: what the decoder buffers
// stays bounded whatever one token or object of the input is.
type boundedReader struct {
	r io.Reader
	// read counts the bytes read; parsed returns the decoder's offset.
	read   int64
	parsed func() int64
}

func (b *boundedReader) Read(p []byte) (int, error) {
	if b.read-b.parsed() > maxTrackerValue {
		return 0, errValueTooLarge
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	return n, err
}

// errTrackerShape is JSON that is well-formed but not shaped as the
// tracker's.
var errTrackerShape = errors.New("unexpected shape")

// expectDelim reads the next token, which must be delim.
func expectDelim(dec *json.Decoder, delim json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if d, ok := tok.(json.Delim); !ok || d != delim {
		return fmt.Errorf("%w: want %q, found %v", errTrackerShape, delim, describeToken(tok))
	}
	return nil
}

// stringKey reads an object key.
func stringKey(dec *json.Decoder) (string, error) {
	tok, err := dec.Token()
	if err != nil {
		return "", err
	}
	s, ok := tok.(string)
	if !ok {
		return "", fmt.Errorf("%w: want an object key, found %v", errTrackerShape, describeToken(tok))
	}
	return s, nil
}

// skipValue reads past the rest of a value, token by token, holding none
// of it beyond the token being read: depth is how many of its objects or
// arrays are open already (0: the value is still to be read).
func skipValue(dec *json.Decoder, depth int) error {
	for {
		tok, err := dec.Token()
		if err != nil {
			return err
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if depth++; depth > maxTrackerDepth {
				return fmt.Errorf("%w: nested more than %d deep", errTrackerShape, maxTrackerDepth)
			}
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
		if depth == 0 {
			return nil
		}
	}
}

// describeToken names a token for an error, never quoting much of it.
func describeToken(tok json.Token) string {
	switch v := tok.(type) {
	case string:
		return fmt.Sprintf("the string %q", clipUTF8(v, 32))
	case json.Delim:
		return fmt.Sprintf("%q", v.String())
	case nil:
		return "null"
	}
	return fmt.Sprintf("%v", tok)
}

// clipUTF8 cuts s to at most n bytes, on a rune boundary.
func clipUTF8(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}
