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

	"github.com/tailops/tailops/xzlimit"
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
		x, err := xzlimit.NewFileReader(f, xzListLimits)
		if err != nil {
			f.Close()
			return nil, xzListError("not xz data", err)
		}
		r = xzList{x}
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

// xzListLimits bound what decoding an .xz list may allocate: the xz
// package's reader would allocate whatever dictionary a block asks for,
// up to 4 GiB (see xzlimit). apt keeps a list as its archive compressed
// it, and the archives' tools use xz's presets: Debian's dak runs "xz -c"
// (daklib/filewriter.py), apt-ftparchive liblzma's preset 6 (xz's "-6"
// in apt-pkg/aptconfiguration.cc), Launchpad, Ubuntu's, Python's lzma
// at its default preset, 6 (lp/archivepublisher/utils.py): an 8 MiB
// dictionary, in one block whose header does not say its size. The
// largest preset, -9, asks for 64 MiB: Dict.
//
// XZ Utils 5.6 and later compress with threads by default, in blocks of
// three dictionaries (24 MiB at -6: a 50 MB list is 3 blocks) whose
// headers say their sizes, and xz -T1 --block-size makes blocks that do
// not: a fixed total over all the blocks, like the journal's 32 MiB,
// would refuse a list for its number of blocks. What the total guards
// against is a crafted list of many tiny blocks, each making a
// dictionary and a decoder (PerBlock) anew. So the budget grows with the
// bytes decoded, from Total, two -9 dictionaries (two -9 streams one
// after the other): a list whose blocks each decode at least what they
// count (or say their size) is never refused, however many they are,
// and a crafted one makes TailOps allocate at most 128 MiB more than it
// decodes.
var xzListLimits = xzlimit.Limits{Dict: 64 << 20, Total: 128 << 20, PerBlock: 64 << 10, GrowWithOutput: true}

// xzList reads an .xz list, saying what to do when its dictionaries are
// over the limits.
type xzList struct{ r *xzlimit.Reader }

func (l xzList) Read(p []byte) (int, error) {
	k, err := l.r.Read(p)
	if err != nil && err != io.EOF {
		err = xzListError("xz data", err)
	}
	return k, err
}

// xzListError is the error of reading an .xz list: what to do when its
// dictionaries are over the limits, else what failed and err. It names
// no path: check_updates' note puts the list's file name before it, and
// the lists' directory (under HOST_VAR) is no business of the caller's.
func xzListError(what string, err error) error {
	if !errors.Is(err, xzlimit.ErrDict) {
		return fmt.Errorf("%s: %w", what, err)
	}
	return fmt.Errorf("%w; TailOps reads an xz list only if each block asks for %d MiB at most (xz -9's dictionary, "+
		"the largest of the presets archives compress their lists with) and all of them for %d MiB beyond what they "+
		"decode: delete the list and run apt-get update to download it again, or, if its repository publishes it so, "+
		"have apt fetch its .gz lists instead (Acquire::CompressionTypes::Order:: \"gz\";)",
		err, xzListLimits.Dict>>20, xzListLimits.Total>>20)
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
