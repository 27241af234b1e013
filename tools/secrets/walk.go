// SPDX-License-Identifier: Apache-2.0

package secrets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"github.com/tailops/tailops/tools"
)

// Bounds of a scan.
const (
	// maxFileBytes is how much of one file is scanned; the rest of a
	// larger file is not (it counts in partly_scanned).
	maxFileBytes = 1 << 20
	// maxFindings bounds the findings returned.
	maxFindings = 500
	// binarySniff is how much of a file is checked for a NUL byte, which
	// marks it binary.
	binarySniff = 8 << 10
)

// ScanArgs is scan_secrets' input.
type ScanArgs struct {
	Path     string `json:"path,omitempty" jsonschema_description:"an absolute directory or file under one of the roots (default: every root)"`
	MaxFiles *int   `json:"max_files,omitempty" jsonschema_description:"most files read (default 5000, at most 100000)"`
	MaxBytes *int   `json:"max_bytes,omitempty" jsonschema_description:"most bytes read in all (default 64 MiB, at most 1 GiB); at most 1 MiB of each file is scanned"`
}

// ScanResult is scan_secrets' output.
type ScanResult struct {
	Findings []Finding `json:"findings"`
	// Truncated is set when a bound stopped the walk or cut the findings;
	// Limits names which.
	Truncated     bool     `json:"truncated" jsonschema_description:"a bound stopped the walk before every file was read, or cut the findings"`
	Limits        []string `json:"limits,omitempty" jsonschema_description:"the bounds that did: max_files, max_bytes, time, findings (500 in all), findings_per_file (50)"`
	FilesScanned  int      `json:"files_scanned"`
	BytesScanned  int64    `json:"bytes_scanned"`
	Denied        int      `json:"denied" jsonschema_description:"files and directories on the file tools' deny-list, not read"`
	Binary        int      `json:"binary" jsonschema_description:"binary files, not scanned"`
	PartlyScanned int      `json:"partly_scanned" jsonschema_description:"files larger than 1 MiB, of which the first MiB was scanned"`
	Skipped       int      `json:"skipped" jsonschema_description:"symlinks, special files, allowlisted paths and unreadable entries, not read"`
	Roots         []string `json:"roots" jsonschema_description:"the directories walked"`
}

// Finding is one secret found. It never holds the secret.
type Finding struct {
	Path        string `json:"path"`
	Line        int    `json:"line,omitempty" jsonschema_description:"the line the secret starts on; absent for a rule on the file's name"`
	Rule        string `json:"rule" jsonschema_description:"the gitleaks rule id, e.g. aws-access-token, private-key"`
	Description string `json:"description"`
	Fingerprint string `json:"fingerprint" jsonschema_description:"a keyed hash of path, rule and secret: the same finding has the same fingerprint while the server runs"`
}

// walk is one scan's state.
type walk struct {
	t        *Toolset
	scan     *scanner
	res      *ScanResult
	maxFiles int
	maxBytes int64
	stopped  bool
	buf      []byte
}

// scanSecrets walks the roots, or path beneath one, for secrets.
func (t *Toolset) scanSecrets(ctx context.Context, in ScanArgs) (ScanResult, error) {
	maxFiles, err := tools.IntArg("max_files", in.MaxFiles, 5000, 1, 100000)
	if err != nil {
		return ScanResult{}, err
	}
	maxBytes, err := tools.IntArg("max_bytes", in.MaxBytes, 64<<20, 1, 1<<30)
	if err != nil {
		return ScanResult{}, err
	}
	type start struct{ root, rel string }
	var starts []start
	if in.Path == "" {
		for _, r := range t.roots {
			starts = append(starts, start{r, "."})
		}
	} else {
		if !filepath.IsAbs(in.Path) || strings.ContainsRune(in.Path, 0) {
			return ScanResult{}, tools.ArgErrorf("path", "must be an absolute path under one of the roots (%s)", strings.Join(t.roots, ", "))
		}
		p := filepath.Clean(in.Path)
		for _, r := range t.roots {
			if rel, err := filepath.Rel(r, p); err == nil && rel != ".." && !strings.HasPrefix(rel, "../") {
				starts = append(starts, start{r, filepath.ToSlash(rel)})
				break
			}
		}
		if len(starts) == 0 {
			return ScanResult{}, tools.ArgErrorf("path", "%s is not under a root (%s)", p, strings.Join(t.roots, ", "))
		}
		if t.denied(starts[0].rel) {
			return ScanResult{}, tools.ArgErrorf("path", "%s is on the file tools' deny-list", p)
		}
	}
	ctx, cancel := context.WithTimeout(ctx, t.timeout)
	defer cancel()
	res := ScanResult{Findings: []Finding{}}
	sc, err := t.scanner()
	if err != nil {
		return ScanResult{}, fmt.Errorf("compiling the embedded gitleaks rules: %w", err)
	}
	w := &walk{t: t, scan: sc, res: &res, maxFiles: maxFiles, maxBytes: int64(maxBytes), buf: make([]byte, maxFileBytes)}
	for _, s := range starts {
		res.Roots = append(res.Roots, s.root)
		if err := w.root(ctx, s.root, s.rel); err != nil {
			return ScanResult{}, err
		}
		if w.stopped {
			break
		}
	}
	if ctx.Err() != nil && !w.stopped {
		if parent := context.Cause(ctx); errors.Is(parent, context.Canceled) {
			return ScanResult{}, fmt.Errorf("scanning for secrets: %w", parent)
		}
	}
	t.log.Info("scan_secrets", "roots", res.Roots, "files", res.FilesScanned, "bytes", res.BytesScanned,
		"findings", len(res.Findings), "truncated", res.Truncated)
	return res, nil
}

// limit records that bound name stopped the walk.
func (w *walk) limit(name string) {
	w.stopped, w.res.Truncated = true, true
	w.res.Limits = append(w.res.Limits, name)
}

// root walks rel beneath root, opened as an os.Root so that nothing
// outside it is reached, whatever the links inside say.
func (w *walk) root(ctx context.Context, root, rel string) error {
	r, err := os.OpenRoot(root)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			w.res.Skipped++
			return nil
		}
		return fmt.Errorf("opening the root %s: %w", root, err)
	}
	defer r.Close()
	// os.Root follows links that stay inside the root: the path asked
	// for must pass through none, or a link to a denied directory would
	// be walked under the link's name, past the deny-list.
	if rel != "." {
		parts := strings.Split(rel, "/")
		for i := range parts {
			prefix := strings.Join(parts[:i+1], "/")
			if fi, err := r.Lstat(prefix); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
				return tools.ArgErrorf("path", "%s is a symbolic link, which scan_secrets does not follow: give the path it points to",
					filepath.Join(root, filepath.FromSlash(prefix)))
			}
		}
	}
	fsys := r.FS()
	err = fs.WalkDir(fsys, rel, func(p string, d fs.DirEntry, err error) error {
		switch {
		case w.stopped:
			return fs.SkipAll
		case ctx.Err() != nil:
			w.limit("time")
			return fs.SkipAll
		case err != nil:
			w.res.Skipped++ // unreadable: permissions, or gone
			if d != nil && d.IsDir() {
				return fs.SkipDir
			}
			return nil
		case p != "." && w.t.denied(p):
			w.res.Denied++
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		case d.IsDir():
			if p != "." && w.scan.pathAllowed(p) {
				w.res.Skipped++ // node_modules, vendored trees: gitleaks' global allowlist
				return fs.SkipDir
			}
			return nil
		case !d.Type().IsRegular():
			w.res.Skipped++ // symlinks are not followed; devices, FIFOs and sockets not read
			return nil
		}
		if w.res.FilesScanned >= w.maxFiles {
			w.limit("max_files")
			return fs.SkipAll
		}
		if w.res.BytesScanned >= w.maxBytes {
			w.limit("max_bytes")
			return fs.SkipAll
		}
		w.file(r, root, p, d)
		return nil
	})
	if err != nil && !errors.Is(err, fs.SkipAll) {
		return fmt.Errorf("walking %s: %w", root, err)
	}
	return nil
}

// file scans one regular file, p relative to root, as d, its entry in
// the walk.
func (w *walk) file(r *os.Root, root, p string, d fs.DirEntry) {
	name := filepath.Join(root, filepath.FromSlash(p))
	if w.scan.pathAllowed(p) {
		w.res.Skipped++
		return
	}
	// The entry as it is now (lstat), then the file opened: os.Root
	// follows a link inside the root whatever O_NOFOLLOW says, so a file
	// swapped for a link since is caught by comparing the two.
	seen, err := d.Info()
	if err != nil || !seen.Mode().IsRegular() {
		w.res.Skipped++
		return
	}
	// O_NONBLOCK: a file swapped for a FIFO since the walk saw it must not
	// block the open; it is then refused as not regular.
	f, err := r.OpenFile(p, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOFOLLOW, 0)
	if err != nil {
		w.res.Skipped++
		return
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || !os.SameFile(fi, seen) {
		w.res.Skipped++
		return
	}
	w.addHits(name, w.scan.pathHits(name, p))
	want := min(int64(maxFileBytes), w.maxBytes-w.res.BytesScanned)
	n, err := io.ReadFull(f, w.buf[:want])
	if err != nil && !errors.Is(err, io.EOF) && !errors.Is(err, io.ErrUnexpectedEOF) {
		w.res.Skipped++
		return
	}
	data := w.buf[:n]
	w.res.FilesScanned++
	w.res.BytesScanned += int64(n)
	if int64(n) == want {
		if more, _ := f.Read(make([]byte, 1)); more > 0 {
			w.res.PartlyScanned++
		}
	}
	if bytes.IndexByte(data[:min(len(data), binarySniff)], 0) >= 0 {
		w.res.Binary++
		return
	}
	hits, cut := w.scan.scan(name, p, data)
	w.addHits(name, hits)
	if cut && !slices.Contains(w.res.Limits, "findings_per_file") {
		w.res.Truncated = true
		w.res.Limits = append(w.res.Limits, "findings_per_file")
	}
}

// addHits adds findings in the file name, up to maxFindings.
func (w *walk) addHits(name string, hits []hit) {
	for _, h := range hits {
		if len(w.res.Findings) == maxFindings {
			w.limit("findings")
			return
		}
		w.res.Findings = append(w.res.Findings, Finding{Path: name, Line: h.line, Rule: h.rule, Description: h.description, Fingerprint: h.fingerprint})
	}
}
