// SPDX-License-Identifier: Apache-2.0

package files

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// pathMax is Linux's PATH_MAX, the longest path argument accepted.
const pathMax = unix.PathMax

// defaultFileRoot is the file root when Config.Roots is empty.
const defaultFileRoot = "/var/log"

// fsRoot is one configured file root.
type fsRoot struct {
	configured string   // absolute and cleaned, as configured
	path       string   // configured, with symlinks resolved once at construction
	dir        *os.File // O_PATH|O_DIRECTORY handle on path; nil when unavailable
	fd         int      // dir's descriptor, valid while dir is reachable
}

// newRoots returns the roots, none of them open (unavailable) yet.
func newRoots(paths []string) []*fsRoot {
	roots := make([]*fsRoot, 0, len(paths))
	for _, p := range paths {
		roots = append(roots, &fsRoot{configured: filepath.Clean(p)})
	}
	return roots
}

// openRoots resolves and opens the roots. A root that cannot be opened is
// kept, unavailable, so that paths under it get a clear error rather than
// falling through to another root; the reason is logged.
func (fs *fileSystem) openRoots() {
	for _, r := range fs.roots {
		if r.dir != nil {
			continue
		}
		if err := r.open(); err != nil {
			fs.log.Warn("file root unavailable", "root", r.configured, "err", err)
			continue
		}
		if r.path != r.configured {
			fs.log.Info("file root is a symlink, resolved once", "root", r.configured, "resolved", r.path)
		}
	}
}

// closeRoots closes the roots' handles; they are unavailable afterwards.
func (fs *fileSystem) closeRoots() error {
	var errs []error
	for _, r := range fs.roots {
		if r.dir != nil {
			errs = append(errs, r.dir.Close())
			r.dir, r.fd = nil, -1
		}
	}
	return errors.Join(errs...)
}

func (r *fsRoot) open() error {
	if !filepath.IsAbs(r.configured) {
		return fmt.Errorf("opening root %q: not an absolute path", r.configured)
	}
	resolved, err := filepath.EvalSymlinks(r.configured)
	if err != nil {
		return fmt.Errorf("resolving root: %w", err)
	}
	fd, err := unix.Open(resolved, unix.O_PATH|unix.O_DIRECTORY|unix.O_NOFOLLOW|unix.O_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("opening root %s: %w", resolved, err)
	}
	r.path = resolved
	r.dir, r.fd = os.NewFile(uintptr(fd), resolved), fd
	return nil
}

// within returns p relative to dir when p is dir or lies under it; it
// compares whole components, so /tmp/rx is not within /tmp/r.
func within(dir, p string) (string, bool) {
	switch {
	case p == dir:
		return ".", true
	case dir == "/":
		return p[1:], true
	case strings.HasPrefix(p, dir) && p[len(dir)] == '/':
		return p[len(dir)+1:], true
	}
	return "", false
}

// node is an open file or directory inside a root. It holds a raw
// descriptor, not an *os.File, to keep walks at the minimum of syscalls;
// whoever opens a node closes it.
type node struct {
	fd int
	st unix.Stat_t
	// rel is the resolved path relative to the root in the checked build,
	// and the host path in the tailops_nocheck build. It never appears in
	// messages.
	rel string
}

func (n *node) close() { _ = unix.Close(n.fd) }

// newNode takes over fd and fstats it.
func newNode(fd int, rel string) (*node, error) {
	n := &node{fd: fd, rel: rel}
	if err := unix.Fstat(fd, &n.st); err != nil {
		n.close()
		return nil, fmt.Errorf("stating: %w", err)
	}
	return n, nil
}

// readAt reads len(b) bytes at off, or fewer at the end of the file,
// counting them.
func (fs *fileSystem) readAt(n *node, b []byte, off int64) (int, error) {
	done := 0
	for done < len(b) {
		k, err := unix.Pread(n.fd, b[done:], off+int64(done))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return done, fmt.Errorf("reading: %w", err)
		}
		if k == 0 {
			break
		}
		done += k
		fs.bytesRead.Add(int64(k))
	}
	return done, nil
}

// nodeReader reads a node sequentially, counting bytes into the file
// system's counter and *read.
type nodeReader struct {
	n    *node
	fs   *fileSystem
	read *int64
}

func (r *nodeReader) Read(b []byte) (int, error) {
	for {
		k, err := unix.Read(r.n.fd, b)
		switch {
		case err == unix.EINTR:
			continue
		case err != nil:
			return 0, fmt.Errorf("reading: %w", err)
		case k == 0 && len(b) > 0:
			return 0, io.EOF
		}
		r.fs.bytesRead.Add(int64(k))
		*r.read += int64(k)
		return k, nil
	}
}

// readNames reads up to max entry names of the open directory dir (not
// "." or ".."), and reports whether it read them all.
func readNames(dir *node, max int) ([]string, bool, error) {
	ents, complete, err := readEntries(dir, max)
	names := make([]string, len(ents))
	for i, e := range ents {
		names[i] = e.name
	}
	return names, complete, err
}

// rawEntry is a directory entry as getdents gives it: its name, the
// file type bits (unix.S_IF*) from d_type, 0 when the file system does
// not say (DT_UNKNOWN), and its inode number (that of the directory it
// is, not of a file system mounted on it).
type rawEntry struct {
	name string
	mode uint32
	ino  uint64
}

// readEntries reads up to max entries of the open directory dir (not "."
// or ".."), with their d_type, and reports whether it read them all.
func readEntries(dir *node, max int) ([]rawEntry, bool, error) {
	var ents []rawEntry
	buf := make([]byte, 32<<10)
	for {
		k, err := unix.Getdents(dir.fd, buf)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return nil, false, fmt.Errorf("reading directory: %w", err)
		}
		if k <= 0 {
			return ents, true, nil
		}
		if ents = appendDirents(ents, buf[:k]); len(ents) > max {
			return ents[:max], false, nil
		}
	}
}

// appendDirents appends the entries of a getdents64 buffer, skipping ".",
// ".." and deleted entries (d_ino 0): records of d_ino (8 bytes), d_off
// (8), d_reclen (2), d_type (1), then the NUL-terminated name, padded to
// d_reclen. The names are cut from one string copy of the buffer: one
// allocation per getdents call instead of one per entry, which a listing
// of 10,000 entries otherwise spends much of its time on (and the GC
// after it).
func appendDirents(ents []rawEntry, buf []byte) []rawEntry {
	const nameOff = 19
	str := string(buf)
	for off := 0; len(buf)-off >= nameOff; {
		rec := buf[off:]
		reclen := int(binary.NativeEndian.Uint16(rec[16:18]))
		if reclen < nameOff || reclen > len(rec) {
			break // malformed; the kernel does not do this
		}
		rec = rec[:reclen]
		nameLen := reclen - nameOff
		if i := bytes.IndexByte(rec[nameOff:], 0); i >= 0 {
			nameLen = i
		}
		name := str[off+nameOff : off+nameOff+nameLen]
		off += reclen
		// d_ino 0 marks a deleted entry on some file systems (as
		// unix.ParseDirent, which this replaces, skips it too).
		ino := binary.NativeEndian.Uint64(rec[0:8])
		if ino == 0 || name == "" || name == "." || name == ".." {
			continue
		}
		ents = append(ents, rawEntry{name: name, mode: direntMode(rec[18]), ino: ino})
	}
	return ents
}

// direntMode maps a d_type to the S_IF* bits, as libc's DTTOIF does
// (DT_REG<<12 == S_IFREG, and so on); DT_UNKNOWN gives 0.
func direntMode(t byte) uint32 { return uint32(t) << 12 }

// Open flags for the ways the tools open things.
const (
	openDir  = unix.O_RDONLY | unix.O_DIRECTORY | unix.O_CLOEXEC
	openFile = unix.O_RDONLY | unix.O_NONBLOCK | unix.O_NOCTTY | unix.O_CLOEXEC
	openPath = unix.O_PATH | unix.O_CLOEXEC
)

// openRegular opens p for reading its contents and checks that it is a
// regular file the policy lets the tools read.
func (fs *fileSystem) openRegular(p string) (*node, error) {
	n, err := fs.open(p, openFile)
	if err != nil {
		return nil, err
	}
	switch {
	case isDir(&n.st):
		n.close()
		return nil, badPath(p, "is a directory")
	case !isRegular(&n.st):
		n.close()
		return nil, badPath(p, "not a regular file")
	}
	if err := fs.contentPolicy(p, n); err != nil {
		n.close()
		return nil, err
	}
	return n, nil
}
