// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"bytes"
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

// FuzzOpen reads whatever bytes every way a tool would (forward, backward,
// matches, time seeks): errors must be *FormatErrors, never a panic, a
// hang or unbounded memory. Seeded with a real file (testdata/seed.journal,
// see make-seed.sh) and it with entries that once cost gigabytes
// appended; run with go test -fuzz FuzzOpen ./journal.
func FuzzOpen(f *testing.F) {
	seed, err := os.ReadFile("testdata/seed.journal")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(seed)
	f.Add(seed[:headerReadSize])
	// An xz field whose second block asks for a 4 GiB dictionary, and an
	// entry naming an lz4 field without '=' over and over.
	msg := append([]byte("MESSAGE="), bytes.Repeat([]byte("a long, compressible line "), 400)...)
	f.Add(appendEntry(f, seed, []splicedData{xzData(f, msg, 4096, map[int]byte{1: 40})}, []int{0}))
	f.Add(appendEntry(f, seed, []splicedData{lz4Data(f, bytes.Repeat([]byte("A"), 64<<10))}, slices.Repeat([]int{0}, 64)))
	f.Fuzz(func(t *testing.T, b []byte) {
		size := func() (int64, error) { return int64(len(b)), nil }
		jf, err := newFile("fuzz", bytes.NewReader(b), size, &Options{MaxFieldSize: 1 << 10, MaxEntrySize: 4 << 10})
		if err != nil {
			checkFormatError(t, err)
			return
		}
		defer jf.Close()
		for _, err := range exerciseFile(jf) {
			checkFormatError(t, err)
		}
	})
}

func checkFormatError(t *testing.T, err error) {
	t.Helper()
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Path != "fuzz" || !(errors.Is(err, ErrCorrupt) || errors.Is(err, ErrUnsupported)) {
		t.Fatalf("error %q (%T) is not a FormatError", err, err)
	}
}

// TestSeed: the committed seed is a real file the reader reads whole.
func TestSeed(t *testing.T) {
	f, err := Open("testdata/seed.journal", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if in := f.Info(); !in.Compact || !in.KeyedHash || in.Entries != 6 || f.hdr.incompat&incompatZstd == 0 {
		t.Errorf("Info = %+v", in)
	}
	r, _ := f.Reader("_SYSTEMD_UNIT=unit1.service")
	got := readAll(t, r, true)
	if len(got) != 2 || !strings.HasPrefix(got[1].String("MESSAGE"), "a long, compressible line") || got[0].String("_PID") != "1001" {
		t.Errorf("unit1: %d entries", len(got))
	}
	for _, e := range got {
		checkXorHash(t, e)
	}
	if errs := exerciseFile(f); len(errs) > 0 {
		t.Errorf("errors reading the seed: %v", errs)
	}
}
