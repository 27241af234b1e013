// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"
)

// release is what a Release (or InRelease) file says of its suite.
type release struct {
	// File is the Release file's name in the lists directory.
	File                               string
	Origin, Label, Suite, Codename     string
	NotAutomatic, ButAutomaticUpgrades bool
}

// security reports whether the suite carries security updates: a
// *-security suite (Debian since bullseye, Ubuntu), a */updates one
// (Debian before bullseye), or Debian's Debian-Security label.
func (r *release) security() bool {
	if r == nil {
		return false
	}
	for _, s := range []string{r.Suite, r.Codename} {
		if strings.HasSuffix(s, "-security") || strings.HasSuffix(s, "/updates") {
			return true
		}
	}
	return r.Label == "Debian-Security"
}

// automatic reports whether apt's default policy takes candidates from
// the suite: not from a NotAutomatic one (experimental, backports)
// unless it also says ButAutomaticUpgrades.
func (r *release) automatic() bool {
	return r == nil || !r.NotAutomatic || r.ButAutomaticUpgrades
}

// releaseKeys are the fields read from a Release file.
var releaseKeys = []string{"Origin", "Label", "Suite", "Codename", "NotAutomatic", "ButAutomaticUpgrades"}

// readRelease reads the first paragraph of a Release or InRelease file
// (an InRelease file's signature is not checked: apt did when it
// downloaded it).
func readRelease(r io.Reader) (*release, error) {
	p := newControlParser(r, releaseKeys...)
	p.pgp = true
	var rel *release
	err := p.parse(func(par *paragraph) error {
		v := par.fields
		rel = &release{Origin: v[0], Label: v[1], Suite: v[2], Codename: v[3],
			NotAutomatic: strings.EqualFold(v[4], "yes"), ButAutomaticUpgrades: strings.EqualFold(v[5], "yes")}
		return errStop
	})
	if err != nil {
		return nil, err
	}
	if rel == nil {
		return nil, errors.New("no fields")
	}
	return rel, nil
}

// packageList is one of apt's downloaded Packages lists.
type packageList struct {
	// Path is the list's path; Release the release it belongs to, nil
	// when its Release file is missing or unreadable.
	Path    string
	Release *release
}

// compressions are the suffixes apt gives the lists it keeps compressed
// (Acquire::GzipIndexes, Acquire::CompressionTypes), "" for none.
var compressions = []string{"", ".lz4", ".gz", ".xz", ".zst"}

// findLists returns the Packages lists in dir with their releases, and
// notes on Release files that could not be read.
func findLists(dir string) ([]packageList, []string, error) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return nil, nil, fmt.Errorf("apt's lists directory %s does not exist: in a container, mount the host's "+
				"(-v /var/lib/apt/lists:/host/var/lib/apt/lists:ro -e HOST_VAR=/host/var)", dir)
		case errors.Is(err, fs.ErrPermission):
			return nil, nil, fmt.Errorf("reading apt's lists directory %s: permission denied", dir)
		}
		return nil, nil, fmt.Errorf("reading apt's lists directory: %w", err)
	}
	var notes []string
	// Release files by their name's prefix (host_path_dists_suite).
	releases := map[string]*release{}
	var lists []string
	for _, e := range ents {
		if !e.Type().IsRegular() {
			continue
		}
		name := e.Name()
		for _, suffix := range []string{"_InRelease", "_Release"} {
			prefix, ok := strings.CutSuffix(name, suffix)
			if !ok || releases[prefix] != nil {
				continue
			}
			rel, err := readReleaseFile(filepath.Join(dir, name))
			if err != nil {
				notes = append(notes, fmt.Sprintf("%s: %v; its lists are read without their suite (no security marks)", name, err))
				continue
			}
			rel.File = name
			releases[prefix] = rel
		}
		for _, c := range compressions {
			if strings.HasSuffix(name, "_Packages"+c) {
				lists = append(lists, name)
				break
			}
		}
	}
	if len(lists) == 0 {
		return nil, notes, fmt.Errorf("apt's lists directory %s holds no Packages lists: apt has not downloaded any (apt-get update), "+
			"or the host's directory is not mounted there", dir)
	}
	slices.Sort(lists)
	out := make([]packageList, 0, len(lists))
	for _, name := range lists {
		l := packageList{Path: filepath.Join(dir, name)}
		best := -1
		for prefix, rel := range releases {
			if strings.HasPrefix(name, prefix+"_") && len(prefix) > best {
				l.Release, best = rel, len(prefix)
			}
		}
		out = append(out, l)
	}
	return out, notes, nil
}

// readReleaseFile reads the Release file at path.
func readReleaseFile(path string) (*release, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readRelease(f)
}

// openList opens a list, decompressing it as its name says.
func openList(path string) (io.ReadCloser, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	var r io.Reader
	switch filepath.Ext(path) {
	case ".lz4":
		r = lz4.NewReader(f)
	case ".gz":
		if r, err = gzip.NewReader(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("not gzip data: %w", err)
		}
	case ".xz":
		if r, err = xz.NewReader(f); err != nil {
			f.Close()
			return nil, fmt.Errorf("not xz data: %w", err)
		}
	case ".zst":
		d, err := zstd.NewReader(f, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(64<<20))
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("not zstd data: %w", err)
		}
		return readCloser{d.IOReadCloser(), f}, nil
	default:
		return f, nil
	}
	return readCloser{io.NopCloser(r), f}, nil
}

// readCloser reads from a decompressor and closes it and its file.
type readCloser struct {
	io.ReadCloser
	f *os.File
}

func (r readCloser) Close() error {
	r.ReadCloser.Close()
	return r.f.Close()
}

// listKeys are the fields read from a Packages list.
var listKeys = []string{"Package", "Version", "Architecture"}

// scanList streams the Packages list r to fn, one version at a time;
// the fields passed are valid until fn returns (most of a list's packages
// are not installed: fn converts only what it keeps).
func scanList(r io.Reader, fn func(name, version, arch []byte) error) error {
	p := newControlParser(r, listKeys...)
	p.raw = true
	return p.parse(func(par *paragraph) error {
		v := par.raw
		if len(v[0]) == 0 || len(v[1]) == 0 {
			return fmt.Errorf("line %d: a paragraph without a Package or a Version field", par.line)
		}
		return fn(v[0], v[1], v[2])
	})
}
