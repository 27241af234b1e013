// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"strings"
	"testing"
)

// TestParseTracker keeps only the wanted source packages' entries for the
// release asked for, with the tracker's urgency marks removed.
func TestParseTracker(t *testing.T) {
	t.Parallel()
	f, err := os.Open("testdata/tracker.json")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := parseTracker(context.Background(), f, "bookworm", func(s string) bool { return s == "alpha-src" || s == "beta" })
	if err != nil {
		t.Fatal(err)
	}
	if d.Sources != 10 || d.Entries != 5 || len(d.Packages) != 2 || len(d.Packages["beta"]) != 1 {
		t.Errorf("sources %d, entries %d, packages %v", d.Sources, d.Entries, d.Packages)
	}
	for _, e := range d.Packages["alpha-src"] {
		if e.CVE == "CVE-2024-1003" && (e.Urgency != "low" || e.Status != "open" || e.Fixed != "" || e.NoDSA != "Minor issue" || e.Scope != "local") {
			t.Errorf("CVE-2024-1003: %+v", e)
		}
	}
}

// TestParseTrackerMalformed: input that is not the tracker's JSON is a
// *TrackerFormatError that says what the data must be and where it went
// wrong, never a panic or a partial result.
func TestParseTrackerMalformed(t *testing.T) {
	t.Parallel()
	all := func(string) bool { return true }
	none := func(string) bool { return false }
	for _, tc := range []struct {
		name, in string
		// wantedOnly: an error only when the package is wanted (a
		// package not wanted is skipped unread).
		wantedOnly bool
	}{
		{"empty", "", false},
		{"array", `[]`, false},
		{"html", `<html>502 Bad Gateway</html>`, false},
		{"truncated", `{"openssl": {"CVE-2024-1": {"releases": {"bookworm": {"status": "open"`, false},
		{"package not an object", `{"openssl": ["CVE-2024-1"]}`, false},
		{"key not a string", `{"openssl": {3: {}}}`, false},
		{"cve not an object", `{"openssl": {"CVE-2024-1": "open"}}`, true},
		{"status a number", `{"openssl": {"CVE-2024-1": {"releases": {"bookworm": {"status": 3}}}}}`, true},
		{"releases an array", `{"openssl": {"CVE-2024-1": {"releases": []}}}`, true},
		{"trailing data", `{} {}`, false},
		{"unclosed", `{"openssl": {}`, false},
		{"too deep", `{"x": {"y": ` + strings.Repeat("[", maxTrackerDepth) + strings.Repeat("]", maxTrackerDepth) + `}}`, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, want := range []func(string) bool{all, none} {
				d, err := parseTracker(context.Background(), strings.NewReader(tc.in), "bookworm", want)
				var fe *TrackerFormatError
				switch {
				case tc.wantedOnly && !want("openssl"):
					if err != nil {
						t.Errorf("not wanted: %v, want it skipped", err)
					}
				case d != nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), "security-tracker.debian.org/tracker/data/json"):
					t.Errorf("got %v, %v; want a *TrackerFormatError", d, err)
				}
			}
		})
	}
}

// TestParseTrackerBoundedMemory streams a synthesized feed far larger
// than the heap may grow, with one package the size of linux's, and
// checks the heap never grows by more than a fraction of the feed: the
// parser holds what it keeps (one installed package here), not the feed.
func TestParseTrackerBoundedMemory(t *testing.T) {
	const (
		packages  = 4000
		cves      = 10
		bigCVEs   = 20000
		feedFloor = 32 << 20 // the feed is at least this large
		heapBound = 12 << 20 // the heap grows by at most this much
	)
	pr, pw := io.Pipe()
	var written int64
	var peak uint64
	var ms runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms)
	base := ms.HeapAlloc
	go func() {
		w := bufio.NewWriterSize(countWriter{pw, &written}, 64<<10)
		desc := strings.Repeat("A flaw was found in the parser that allows a remote attacker to cause a denial of service. ", 3)
		entry := func(pkg string, i int) {
			fmt.Fprintf(w, `"CVE-2024-%d": {"description": %q, "scope": "remote", "debianbug": %d, "releases": {`+
				`"bookworm": {"status": "resolved", "repositories": {"bookworm": "1.0-1", "bookworm-security": "1.0-1+deb12u1"}, "fixed_version": "1.0-1+deb12u1", "urgency": "medium"},`+
				`"bullseye": {"status": "open", "repositories": {"bullseye": "0.9-1"}, "urgency": "low**", "nodsa": "Minor issue"},`+
				`"sid": {"status": "resolved", "repositories": {"sid": "1.1-1"}, "fixed_version": "1.1-1", "urgency": "medium"}}}`, i, desc+pkg, i)
		}
		w.WriteString("{")
		sample := 0
		for p := 0; p <= packages; p++ {
			name, n := fmt.Sprintf("pkg%d", p), cves
			switch p {
			case packages / 2:
				name, n = "linux-like", bigCVEs
			case packages:
				name, n = "kept", 3
			}
			if p > 0 {
				w.WriteString(",")
			}
			fmt.Fprintf(w, "%q: {", name)
			for i := range n {
				if i > 0 {
					w.WriteString(",")
				}
				entry(name, i)
				if written > int64(sample)<<20 { // sample the heap every MiB
					sample++
					runtime.ReadMemStats(&ms)
					peak = max(peak, ms.HeapAlloc)
				}
			}
			w.WriteString("}")
		}
		w.WriteString("}")
		w.Flush()
		pw.Close()
	}()
	d, err := parseTracker(context.Background(), pr, "bookworm", func(s string) bool { return s == "kept" })
	if err != nil {
		t.Fatal(err)
	}
	if written < feedFloor || d.Entries != 3 || d.Sources != packages+1 {
		t.Fatalf("feed of %d bytes, %d entries kept of %d sources: the test does not test the bound", written, d.Entries, d.Sources)
	}
	if peak <= base || peak-base > heapBound {
		t.Errorf("the heap grew from %d to %d bytes reading a %d-byte feed: want at most %d more", base, peak, written, heapBound)
	}
}

// TestParseTrackerHugeValue: one value larger than the decoder may hold
// (a description, or a key, of 16 MiB) is a format error, wanted or not,
// and is never held whole.
func TestParseTrackerHugeValue(t *testing.T) {
	t.Parallel()
	huge := strings.Repeat("x", 16<<20)
	for name, in := range map[string]string{
		"description of a wanted package": `{"kept": {"CVE-1": {"description": "` + huge + `", "releases": {}}}}`,
		"key of a skipped package":        `{"other": {"` + huge + `": {}}}`,
		"package name":                    `{"` + huge + `": {}}`,
	} {
		d, err := parseTracker(context.Background(), strings.NewReader(in), "bookworm", func(s string) bool { return s == "kept" })
		if fe := (*TrackerFormatError)(nil); d != nil || !errors.As(err, &fe) || !strings.Contains(err.Error(), "larger than 4 MiB") {
			t.Errorf("%s: %v, %v; want a format error saying the value is too large", name, d, err)
		}
	}
}

// countWriter counts the bytes written through it.
type countWriter struct {
	w io.Writer
	n *int64
}

func (c countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	*c.n += int64(n)
	return n, err
}
