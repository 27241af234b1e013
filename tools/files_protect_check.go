// SPDX-License-Identifier: Apache-2.0

//go:build !tailops_nocheck

package tools

import (
	"errors"
	"path"

	"golang.org/x/sys/unix"
)

// reasonProtected refuses the server's own secrets and state. It says
// what the caller hit without saying which of the server's files it is.
const reasonProtected = "denied by policy: the server's own secrets and state are never readable through the file tools, whatever the file roots"

// reasonChanged is a file that was replaced while it was being opened.
const reasonChanged = "changed while it was opened; try again"

// guard refuses the node n, opened beneath root for the caller's path p,
// when n or a directory above it is one of the server's own protected
// paths (Deps.Protected). Directories above are found as the kernel walks
// "..", mount points included, so a protected directory reached through a
// bind mount or a symlink is still recognised.
func (fs *fileSystem) guard(p string, root *fsRoot, n *node) error {
	ids := fs.prot.current()
	if len(ids) == 0 {
		return nil
	}
	if what, ok := ids[idOf(&n.st)]; ok {
		return fs.refuseProtected(p, what)
	}
	dirfd := n.fd
	if !isDir(&n.st) {
		// A file has no "..": walk from the directory that holds it,
		// checked to hold it still.
		fd, err := openBeneath(root, path.Dir(n.rel), openPath|unix.O_DIRECTORY, resolveStrict)
		if err != nil {
			return badPath(p, reasonChanged)
		}
		defer unix.Close(fd)
		var st unix.Stat_t
		if err := unix.Fstatat(fd, path.Base(n.rel), &st, unix.AT_SYMLINK_NOFOLLOW); err != nil || idOf(&st) != idOf(&n.st) {
			return badPath(p, reasonChanged)
		}
		dirfd = fd
	}
	what, err := protectedAbove(ids, dirfd)
	switch {
	case err != nil:
		fs.log.Warn("file tools: cannot check that a path is not the server's own state; refused", "path", shortPath(p), "error", err)
		return refusedPath(p, reasonProtected)
	case what != "":
		return fs.refuseProtected(p, what)
	}
	return nil
}

// protectedAbove returns what the open directory dirfd, or the nearest
// directory above it that is protected, is; "" when none is. It stats
// ".", "..", "../.." and so on until "/", which is its own parent.
func protectedAbove(ids map[fileID]string, dirfd int) (string, error) {
	var prev fileID
	up := "."
	for i := 0; len(up) < pathMax-3; i++ {
		var st unix.Stat_t
		if err := unix.Fstatat(dirfd, up, &st, 0); err != nil {
			return "", err
		}
		id := idOf(&st)
		if what, ok := ids[id]; ok {
			return what, nil
		}
		if i > 0 && id == prev {
			return "", nil
		}
		prev = id
		if i == 0 {
			up = ".."
		} else {
			up += "/.."
		}
	}
	return "", errors.New("deeper than the longest path")
}

// guardStat refuses the entry st, found for the caller's path p, when it
// is one of the server's own protected paths (or an entry recorded
// beneath one).
func (fs *fileSystem) guardStat(p string, st *unix.Stat_t) error {
	if what, ok := fs.prot.current()[idOf(st)]; ok {
		return fs.refuseProtected(p, what)
	}
	return nil
}

// protectedEntry reports whether the file with this device and inode is
// one of the server's own protected paths (or recorded beneath one).
func (fs *fileSystem) protectedEntry(dev, ino uint64) bool {
	_, ok := fs.prot.current()[fileID{dev: dev, ino: ino}]
	return ok
}

// refuseProtected logs what the caller's path p reached, for the
// operator, and returns the refusal, which does not say.
func (fs *fileSystem) refuseProtected(p, what string) error {
	fs.log.Warn("file tools: refused a path that reaches the server's own secrets or state; narrow the file roots",
		"path", shortPath(p), "reaches", what)
	return refusedPath(p, reasonProtected)
}
