// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DefaultDirs are where journald keeps its files: persistent, then
// volatile.
var DefaultDirs = []string{"/var/log/journal", "/run/log/journal"}

// Journal is a set of journal files read as one stream, in time order.
type Journal struct {
	files []*File
	sh    *shared // the files' cache and decoders
	// Skipped lists the files that were found but could not be opened,
	// each with why.
	Skipped []error
}

// OpenDir opens the journal files (*.journal, *.journal~) in the
// directories and in their subdirectories one level down (journald keeps
// a directory per machine ID). A directory that does not exist is passed
// over; files that cannot be opened are listed in Skipped. opts may be nil.
//
// The set of files is taken once: entries appended to them later are
// read, but a file journald starts afterwards (after rotating) is not;
// open the directories again for it.
func OpenDir(opts *Options, dirs ...string) (*Journal, error) {
	var paths []string
	for _, d := range dirs {
		found, err := journalFiles(d)
		if err != nil {
			return nil, err
		}
		paths = append(paths, found...)
	}
	return OpenFiles(opts, paths...)
}

func journalFiles(dir string) ([]string, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("listing journal files: %w", err)
	}
	var out []string
	for _, d := range des {
		p := filepath.Join(dir, d.Name())
		switch {
		case d.IsDir():
			sub, err := os.ReadDir(p)
			if err != nil {
				return nil, fmt.Errorf("listing journal files: %w", err)
			}
			for _, s := range sub {
				if isJournalFile(s) {
					out = append(out, filepath.Join(p, s.Name()))
				}
			}
		case isJournalFile(d):
			out = append(out, p)
		}
	}
	return out, nil
}

func isJournalFile(d fs.DirEntry) bool {
	n := d.Name()
	return d.Type().IsRegular() && (strings.HasSuffix(n, ".journal") || strings.HasSuffix(n, ".journal~"))
}

// OpenFiles opens the journal files; those that cannot be opened are listed
// in Skipped. opts may be nil.
func OpenFiles(opts *Options, paths ...string) (*Journal, error) {
	j := &Journal{sh: newShared(journalCachePages)}
	for _, p := range paths {
		f, err := Open(p, opts)
		if err != nil {
			j.Skipped = append(j.Skipped, err)
			continue
		}
		// The files share one cache, of a size that does not grow with
		// their number (opening used none of the file's own).
		f.sh, f.ownSh = j.sh, false
		j.files = append(j.files, f)
	}
	sort.SliceStable(j.files, func(a, b int) bool {
		return j.files[a].hdr.headRealtime < j.files[b].hdr.headRealtime
	})
	return j, nil
}

// Files returns the open files, oldest first.
func (j *Journal) Files() []*File { return j.files }

// Close closes every file, and frees the cache they share.
func (j *Journal) Close() error {
	var errs []error
	for _, f := range j.files {
		errs = append(errs, f.Close())
	}
	j.sh.dec.close()
	return errors.Join(errs...)
}

// Reader returns a Reader over the entries of all files that match, merged
// in time order, at the head.
func (j *Journal) Reader(matches ...string) (*Reader, error) {
	ms, err := parseMatches(matches)
	if err != nil {
		return nil, err
	}
	r := &Reader{}
	for _, f := range j.files {
		r.curs = append(r.curs, &cursor{f: f, matches: ms})
	}
	return r, nil
}
