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
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"

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
	Denied        int      `json:"denied" jsonschema_description:"files and directories on the file tools' deny-list, or the server's own (found by device and inode), not read"`
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
	// protected is the file tools' check of the server's own paths,
	// by device and inode, one snapshot for the scan.
	protected func(dev, ino uint64) bool
	// rootFD is the root being walked, opened O_PATH: every entry is
	// opened beneath it.
	rootFD int
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
	w := &walk{t: t, scan: sc, res: &res, maxFiles: maxFiles, maxBytes: int64(maxBytes), buf: make([]byte, maxFileBytes),
		protected: t.protected()}
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

// root walks rel beneath root. Every directory and file is opened by its
// whole path beneath the root's descriptor, refusing a symbolic link in
// any part of it (openat2's RESOLVE_NO_SYMLINKS), so nothing outside the
// root is reached and a directory swapped for a link while the walk runs
// is not followed past the deny-list, which is checked on that path.
func (w *walk) root(ctx context.Context, root, rel string) error {
	rfd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			w.res.Skipped++
			return nil
		}
		return fmt.Errorf("opening the root %s: %w", root, err)
	}
	defer unix.Close(rfd)
	w.rootFD = rfd
	fd, err := openBeneath(rfd, rel, unix.O_RDONLY|unix.O_NONBLOCK)
	switch {
	case errors.Is(err, unix.ELOOP) || errors.Is(err, unix.EXDEV):
		return tools.ArgErrorf("path", "%s is a symbolic link, which scan_secrets does not follow: give the path it points to",
			filepath.Join(root, filepath.FromSlash(firstLink(rfd, rel))))
	case errors.Is(err, unix.ENOENT):
		if rel == "." {
			w.res.Skipped++
			return nil
		}
		return tools.ArgErrorf("path", "%s does not exist", filepath.Join(root, filepath.FromSlash(rel)))
	case err != nil:
		return fmt.Errorf("opening %s: %w", filepath.Join(root, filepath.FromSlash(rel)), err)
	}
	var st unix.Stat_t
	if err := unix.Fstat(fd, &st); err != nil {
		unix.Close(fd)
		return fmt.Errorf("opening %s: %w", filepath.Join(root, filepath.FromSlash(rel)), err)
	}
	if w.protected(uint64(st.Dev), st.Ino) {
		unix.Close(fd)
		w.res.Denied++ // the server's own files, reached through a bind mount
		return nil
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		w.dir(ctx, root, rel, fd)
	case unix.S_IFREG:
		w.file(root, rel, fd)
	default:
		unix.Close(fd)
		w.res.Skipped++ // devices, FIFOs and sockets are not read
	}
	return nil
}

// dir walks the directory open as fd, rel beneath root, in name order,
// and closes fd.
func (w *walk) dir(ctx context.Context, root, rel string, fd int) {
	// Named by its host path: ReadDir lstats an entry by that name when
	// the file system gives no type, which only picks how it is opened.
	f := os.NewFile(uintptr(fd), filepath.Join(root, filepath.FromSlash(rel)))
	ents, err := f.ReadDir(-1)
	if err != nil {
		w.res.Skipped++ // unreadable: permissions, or gone
	}
	// Closed before the walk goes deeper: however deep a tree, the walk
	// holds no descriptor per level. Entries are opened beneath the root
	// by their whole path instead, refusing a link in any part of it.
	f.Close()
	slices.SortFunc(ents, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	for _, d := range ents {
		p := path.Join(rel, d.Name())
		switch {
		case w.stopped:
			return
		case ctx.Err() != nil:
			w.limit("time")
			return
		case w.t.denied(p):
			w.res.Denied++
			continue
		case d.IsDir():
			if w.scan.pathAllowed(p) {
				w.res.Skipped++ // node_modules, vendored trees: gitleaks' global allowlist
				continue
			}
			if hookDir != nil {
				hookDir(p)
			}
			cfd, err := openBeneath(w.rootFD, p, unix.O_RDONLY|unix.O_DIRECTORY)
			if err != nil {
				w.res.Skipped++ // swapped for a link since it was listed, unreadable, or gone
				continue
			}
			var st unix.Stat_t
			if err := unix.Fstat(cfd, &st); err != nil || w.protected(uint64(st.Dev), st.Ino) {
				unix.Close(cfd)
				w.res.Denied++ // the server's own directory, reached through a bind mount
				continue
			}
			w.dir(ctx, root, p, cfd)
			continue
		case !d.Type().IsRegular():
			w.res.Skipped++ // symlinks are not followed; devices, FIFOs and sockets not read
			continue
		case w.res.FilesScanned >= w.maxFiles:
			w.limit("max_files")
			return
		case w.res.BytesScanned >= w.maxBytes:
			w.limit("max_bytes")
			return
		case w.scan.pathAllowed(p):
			w.res.Skipped++
			continue
		}
		// O_NONBLOCK: a file swapped for a FIFO since it was listed must
		// not block the open; it is then refused as not regular.
		cfd, err := openBeneath(w.rootFD, p, unix.O_RDONLY|unix.O_NONBLOCK)
		if err != nil {
			w.res.Skipped++
			continue
		}
		w.file(root, p, cfd)
	}
}

// firstLink returns the first prefix of rel, beneath the directory
// dirfd, that is a symbolic link, or rel when none is (any more).
func firstLink(dirfd int, rel string) string {
	parts := strings.Split(rel, "/")
	for i := range parts {
		prefix := strings.Join(parts[:i+1], "/")
		var st unix.Stat_t
		if unix.Fstatat(dirfd, prefix, &st, unix.AT_SYMLINK_NOFOLLOW) == nil && st.Mode&unix.S_IFMT == unix.S_IFLNK {
			return prefix
		}
	}
	return rel
}

// openBeneath opens name beneath the directory dirfd with flags,
// following no symbolic link and never leaving dirfd, retrying the
// EAGAIN the kernel gives when a concurrent rename might have let ".."
// escape.
func openBeneath(dirfd int, name string, flags int) (int, error) {
	how := unix.OpenHow{Flags: uint64(flags | unix.O_CLOEXEC | unix.O_NOFOLLOW),
		Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS | unix.RESOLVE_NO_MAGICLINKS}
	for range 16 {
		fd, err := unix.Openat2(dirfd, name, &how)
		if err != unix.EAGAIN && err != unix.EINTR {
			return fd, err
		}
	}
	return -1, unix.EAGAIN
}

// hookDir, when set by a test, runs before each directory below the
// start is opened, with its path.
var hookDir func(rel string)

// file scans the regular file open as fd, p beneath root, and closes
// fd.
func (w *walk) file(root, p string, fd int) {
	f := os.NewFile(uintptr(fd), p)
	defer f.Close()
	name := filepath.Join(root, filepath.FromSlash(p))
	if w.scan.pathAllowed(p) {
		w.res.Skipped++
		return
	}
	fi, err := f.Stat()
	if err != nil || !fi.Mode().IsRegular() {
		w.res.Skipped++ // swapped for a FIFO or device since it was listed
		return
	}
	if st, ok := fi.Sys().(*syscall.Stat_t); !ok || w.protected(uint64(st.Dev), st.Ino) {
		w.res.Denied++ // the server's own file, reached through a bind mount
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
