// SPDX-License-Identifier: Apache-2.0

//go:build tailops_nocheck

package files

import (
	"path/filepath"

	"golang.org/x/sys/unix"
)

// PathChecks reports whether this build confines file tool paths itself.
// This is a tailops_nocheck build: paths are opened with plain open(2),
// relative ones joined to the first root and absolute ones as given, with
// no deny-list and no hard-link refusal, so that tests can show the
// Landlock sandbox alone refuses escapes. Never ship it.
const PathChecks = false

// hostPath turns a caller's path into a host path with no checks at all.
func (fs *fileSystem) hostPath(p string) (string, error) {
	if err := checkPathArg(p); err != nil {
		return "", err
	}
	if filepath.IsAbs(p) {
		return p, nil
	}
	return filepath.Join(fs.roots[0].configured, p), nil
}

// open opens the caller's path p with flags, following symlinks anywhere.
func (fs *fileSystem) open(p string, flags int) (*node, error) {
	hp, err := fs.hostPath(p)
	if err != nil {
		return nil, err
	}
	fd, err := unix.Open(hp, flags, 0)
	if err != nil {
		return nil, fs.openError(p, err)
	}
	n, err := newNode(fd, hp)
	if err != nil {
		return nil, badPath(p, "cannot stat")
	}
	return n, nil
}

func (fs *fileSystem) openError(p string, err error) error { return badPath(p, errnoReason(err)) }

// openParent opens the directory holding the caller's path p and returns
// it with the last component.
func (fs *fileSystem) openParent(p string) (*node, string, error) {
	hp, err := fs.hostPath(p)
	if err != nil {
		return nil, "", err
	}
	hp = filepath.Clean(hp)
	if hp == "/" {
		n, err := fs.open(p, openPath)
		return n, "", err
	}
	dir, base := filepath.Split(hp)
	fd, err := unix.Open(dir, openPath|unix.O_DIRECTORY, 0)
	if err != nil {
		return nil, "", fs.openError(p, err)
	}
	n, err := newNode(fd, filepath.Clean(dir))
	if err != nil {
		return nil, "", badPath(p, "cannot stat")
	}
	return n, base, nil
}

// openChild opens the entry name of dir by its joined path, following
// symlinks.
func (fs *fileSystem) openChild(dir *node, name string, flags int) (*node, error) {
	hp := filepath.Join(dir.rel, name)
	fd, err := unix.Open(hp, flags, 0)
	if err != nil {
		return nil, err
	}
	return newNode(fd, hp)
}

// childDenied reports nothing denied: there is no deny-list in this build.
func (fs *fileSystem) childDenied(*node, string) bool { return false }

// followsSymlinksInWalks reports whether walks descend into symlinks.
const followsSymlinksInWalks = true

// contentPolicy refuses nothing in this build.
func (fs *fileSystem) contentPolicy(string, *node) error { return nil }

// symlinkInside reports every symlink as inside in this build.
func (fs *fileSystem) symlinkInside(string, string, string) bool { return true }
