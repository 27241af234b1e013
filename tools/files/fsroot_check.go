// SPDX-License-Identifier: Apache-2.0

//go:build !tailops_nocheck

package files

import (
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// PathChecks reports whether this build confines file tool paths itself
// (openat2 beneath the roots, the deny-list, the hard-link refusal). It
// is false only in builds with the tailops_nocheck tag, which leave
// confinement to the Landlock sandbox alone.
const PathChecks = true

const (
	// resolveStrict refuses every symlink: the fast path, and how walks
	// open children.
	resolveStrict = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS | unix.RESOLVE_NO_SYMLINKS
	// resolveFollow follows symlinks as long as they stay beneath the
	// root; absolute symlinks and magic links are refused.
	resolveFollow = unix.RESOLVE_BENEATH | unix.RESOLVE_NO_MAGICLINKS
)

// locate maps a caller's path, lexically, to a root and a cleaned path
// relative to it: absolute paths must lie inside a root (under its
// configured or its resolved name; the longest match wins), relative ones
// are relative to the first root. Nothing on disk is touched.
func (fs *fileSystem) locate(p string) (*fsRoot, string, error) {
	if err := checkPathArg(p); err != nil {
		return nil, "", err
	}
	var root *fsRoot
	var rel string
	if !filepath.IsAbs(p) {
		root, rel = fs.roots[0], filepath.Clean(p)
		if rel == ".." || strings.HasPrefix(rel, "../") {
			return nil, "", refusedPath(p, reasonOutside)
		}
	} else {
		c := filepath.Clean(p)
		best := -1
		for _, r := range fs.roots {
			for _, dir := range []string{r.configured, r.path} {
				if dir == "" || len(dir) <= best {
					continue
				}
				if rr, ok := within(dir, c); ok {
					root, rel, best = r, rr, len(dir)
				}
			}
		}
		if root == nil {
			return nil, "", refusedPath(p, reasonOutside)
		}
	}
	if root.dir == nil {
		return nil, "", badPath(p, fmt.Sprintf("file root %s is unavailable", root.configured))
	}
	return root, rel, nil
}

// openat2 opens name beneath dir, retrying the EAGAIN the kernel returns
// when a concurrent rename might have let ".." escape.
func openat2(dirfd int, name string, flags int, resolve uint64) (int, error) {
	how := unix.OpenHow{Flags: uint64(flags), Resolve: resolve}
	for range 16 {
		fd, err := unix.Openat2(dirfd, name, &how)
		if err != unix.EAGAIN && err != unix.EINTR {
			return fd, err
		}
	}
	return -1, unix.EAGAIN
}

// openBeneath opens rel beneath root, keeping the root's *os.File alive
// across the call.
func openBeneath(root *fsRoot, rel string, flags int, resolve uint64) (int, error) {
	fd, err := openat2(root.fd, rel, flags, resolve)
	runtime.KeepAlive(root.dir)
	return fd, err
}

// open resolves the caller's path p beneath its root and opens it with
// flags. Symlinks are followed only while they stay beneath the root.
// The deny-list is checked on the path as given and as resolved.
func (fs *fileSystem) open(p string, flags int) (*node, error) {
	root, rel, err := fs.locate(p)
	if err != nil {
		return nil, err
	}
	fd, resolved, err := fs.openRel(p, root, rel, flags)
	if err != nil {
		return nil, err
	}
	if fs.deny.match(resolved) {
		_ = unix.Close(fd)
		return nil, refusedPath(p, reasonDenied)
	}
	n, err := newNode(fd, resolved)
	if err != nil {
		return nil, badPath(p, "cannot stat")
	}
	if err := fs.guard(p, root, n); err != nil {
		n.close()
		return nil, err
	}
	return n, nil
}

// openRel opens rel beneath root after checking it against the deny-list,
// and returns the descriptor with the path it resolved to.
func (fs *fileSystem) openRel(p string, root *fsRoot, rel string, flags int) (int, string, error) {
	if fs.deny.match(rel) {
		return -1, "", refusedPath(p, reasonDenied)
	}
	fd, err := openBeneath(root, rel, flags, resolveStrict)
	if err == nil {
		return fd, rel, nil
	}
	if !errors.Is(err, unix.ELOOP) {
		return -1, "", fs.openError(p, err)
	}
	// A symlink on the way: follow it beneath the root, then ask the
	// kernel where the descriptor ended up.
	fd, err = openBeneath(root, rel, flags, resolveFollow)
	if err != nil {
		return -1, "", fs.openError(p, err)
	}
	resolved, reason := fdRel(fd, root)
	if reason != "" {
		_ = unix.Close(fd)
		return -1, "", refusedPath(p, reason)
	}
	return fd, resolved, nil
}

func (fs *fileSystem) openError(p string, err error) error {
	r := errnoReason(err)
	if errors.Is(err, unix.EXDEV) || errors.Is(err, unix.ELOOP) {
		return refusedPath(p, r)
	}
	return badPath(p, r)
}

// fdRel returns the path of fd relative to root, as the kernel reports it
// in /proc/self/fd, or a reason to refuse it. It is only needed when a
// symlink was followed.
func fdRel(fd int, root *fsRoot) (rel, reason string) {
	target, err := os.Readlink("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return "", "refused: the path contains a symlink and /proc is unavailable to check where it leads"
	}
	rel, ok := within(root.path, target)
	if !ok {
		// Beneath the root by openat2, yet not under its path: the root
		// was moved, or a mount hides it. Fail closed.
		return "", reasonOutside
	}
	return rel, ""
}

// openParent opens the directory holding the caller's path p and returns
// it with the last component, so that the last component can be examined
// without following it. For a root itself, base is "" and the node is the
// root.
func (fs *fileSystem) openParent(p string) (dir *node, base string, err error) {
	root, rel, err := fs.locate(p)
	if err != nil {
		return nil, "", err
	}
	if rel == "." {
		n, err := fs.open(p, openPath)
		return n, "", err
	}
	if fs.deny.match(rel) {
		return nil, "", refusedPath(p, reasonDenied)
	}
	dirRel, base := path.Split(rel)
	fd, resolved, err := fs.openRel(p, root, path.Clean("./"+dirRel), openPath|unix.O_DIRECTORY)
	if err != nil {
		return nil, "", err
	}
	if fs.deny.match(path.Join(resolved, base)) {
		_ = unix.Close(fd)
		return nil, "", refusedPath(p, reasonDenied)
	}
	n, err := newNode(fd, resolved)
	if err != nil {
		return nil, "", badPath(p, "cannot stat")
	}
	if err := fs.guard(p, root, n); err != nil {
		n.close()
		return nil, "", err
	}
	return n, base, nil
}

// openChild opens the entry name of the open directory dir without
// following symlinks: a symlink fails with ELOOP, and one of the server's
// own protected paths with EACCES.
func (fs *fileSystem) openChild(dir *node, name string, flags int) (*node, error) {
	fd, err := openat2(dir.fd, name, flags|unix.O_NOFOLLOW, resolveStrict)
	if err != nil {
		return nil, err
	}
	n, err := newNode(fd, path.Join(dir.rel, name))
	if err != nil {
		return nil, err
	}
	if fs.protectedEntry(uint64(n.st.Dev), n.st.Ino) {
		n.close()
		return nil, unix.EACCES
	}
	return n, nil
}

// childDenied reports whether the deny-list hides the entry name of dir.
func (fs *fileSystem) childDenied(dir *node, name string) bool {
	return fs.deny.matchEntry(dir.rel, name)
}

// followsSymlinksInWalks reports whether walks descend into symlinks.
const followsSymlinksInWalks = false

// contentPolicy refuses reading the contents of a regular file with more
// than one link (it may be a hard link to a secret elsewhere), and of a
// key-file (keyFileNames, by its resolved name) that holds a private key
// or is too large to check.
func (fs *fileSystem) contentPolicy(p string, n *node) error {
	if !isRegular(&n.st) {
		return nil
	}
	if n.st.Nlink > 1 {
		return refusedPath(p, reasonHardLnk)
	}
	if !isKeyFile(path.Base(n.rel)) {
		return nil
	}
	if n.st.Size > keyFileMaxCheck {
		return refusedPath(p, reasonKeyUnchecked+" (larger than 1 MiB)")
	}
	// One byte more than its size: a file that grew meanwhile is refused.
	b := make([]byte, n.st.Size+1)
	k, err := fs.readAt(n, b, 0)
	switch {
	case err != nil || k == len(b):
		return refusedPath(p, reasonKeyUnchecked)
	case holdsPrivateKey(b[:k]):
		return refusedPath(p, reasonKeyFile)
	}
	return nil
}

// symlinkInside reports whether the symlink at the caller's path p
// resolves beneath its root. A dangling symlink counts as inside when its
// text, taken lexically, stays inside; dirRel is the resolved directory
// holding the link.
func (fs *fileSystem) symlinkInside(p, dirRel, target string) bool {
	n, err := fs.open(p, openPath)
	if err == nil {
		n.close()
		return true
	}
	var pe *pathError
	if !errors.As(err, &pe) {
		return false
	}
	switch {
	case pe.reason == reasonDenied || pe.reason == reasonProtected:
		return true // inside, and hidden: its name is no secret
	case pe.reason != "not found" || path.IsAbs(target):
		return false
	}
	t := path.Join(dirRel, target)
	return t != ".." && !strings.HasPrefix(t, "../")
}
