// SPDX-License-Identifier: Apache-2.0

//go:build !tailops_nocheck

package files

import (
	"errors"
	iofs "io/fs"
	"log/slog"
	"path"
	"path/filepath"
	"slices"
	"sync"
	"time"

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
	snap := fs.prot.current()
	if snap == nil || len(snap.ids) == 0 {
		return nil
	}
	if what, ok := snap.ids[idOf(&n.st)]; ok {
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
	what, err := snap.protectedAbove(dirfd)
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
// ".", "..", "../.." and so on until "/" (its own parent) or a directory
// this snapshot already found clean, and then records the directories it
// passed as clean too, so that later calls stop after a step or two.
func (s *protSnapshot) protectedAbove(dirfd int) (string, error) {
	var seen []fileID
	up := "."
	for i := 0; len(up) < pathMax-3; i++ {
		var st unix.Stat_t
		if err := unix.Fstatat(dirfd, up, &st, 0); err != nil {
			return "", err
		}
		id := idOf(&st)
		if what, ok := s.ids[id]; ok {
			return what, nil
		}
		if s.isClean(id) || i > 0 && id == seen[i-1] {
			s.addClean(seen)
			return "", nil
		}
		seen = append(seen, id)
		if i == 0 {
			up = ".."
		} else {
			up += "/.."
		}
	}
	return "", errors.New("deeper than the longest path")
}

// protCleanMax bounds the directories a snapshot remembers as clean.
const protCleanMax = 4096

func (s *protSnapshot) isClean(id fileID) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.clean[id]
}

func (s *protSnapshot) addClean(ids []fileID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, id := range ids {
		if len(s.clean) >= protCleanMax {
			return
		}
		s.clean[id] = true
	}
}

// guardStat refuses the entry st, found for the caller's path p, when it
// is one of the server's own protected paths (or an entry recorded
// beneath one).
func (fs *fileSystem) guardStat(p string, st *unix.Stat_t) error {
	if what, ok := fs.prot.current().lookup(idOf(st)); ok {
		return fs.refuseProtected(p, what)
	}
	return nil
}

// protectedEntry reports whether the file with this device and inode is
// one of the server's own protected paths (or recorded beneath one).
func (fs *fileSystem) protectedEntry(dev, ino uint64) bool {
	return fs.prot.current().holds(dev, ino)
}

// refuseProtected logs what the caller's path p reached, for the
// operator, and returns the refusal, which does not say.
func (fs *fileSystem) refuseProtected(p, what string) error {
	fs.log.Warn("file tools: refused a path that reaches the server's own secrets or state; narrow the file roots",
		"path", shortPath(p), "reaches", what)
	return refusedPath(p, reasonProtected)
}

// protectRefresh is how long the tools use one snapshot of the protected
// paths' identities before taking another: files in the state directory
// are replaced by rename, and the state directory appears at the first
// start only after the tools are built.
const protectRefresh = time.Second

// protectMaxEntries bounds the entries beneath protected directories
// whose identities a snapshot records. Entries past it are still refused
// when reached through their protected directory; recording them only
// matters for a bind mount of a part of a protected directory.
const protectMaxEntries = 10000

// fileID identifies a file by device and inode.
type fileID struct{ dev, ino uint64 }

func idOf(st *unix.Stat_t) fileID { return fileID{dev: uint64(st.Dev), ino: st.Ino} }

// protection is what the file tools know of Deps.Protected: the paths,
// and a snapshot of the identities of each and of everything beneath the
// protected directories.
type protection struct {
	paths []ProtectedPath
	log   *slog.Logger
	every time.Duration // protectRefresh; tests shorten it

	mu     sync.Mutex
	at     time.Time
	snap   *protSnapshot // nil until the first call
	capped bool          // protectMaxEntries was reached (logged once)
}

// protSnapshot is what the protected paths were at one moment.
type protSnapshot struct {
	ids map[fileID]string // identity: what it is (ProtectedPath.What)

	mu    sync.Mutex
	clean map[fileID]bool // directories with nothing protected above them
}

// holds reports whether the file dev/ino is one the snapshot protects.
func (s *protSnapshot) holds(dev, ino uint64) bool {
	_, ok := s.lookup(fileID{dev: dev, ino: ino})
	return ok
}

// lookup returns what the file with identity id is, if protected. A nil
// snapshot protects nothing.
func (s *protSnapshot) lookup(id fileID) (string, bool) {
	if s == nil {
		return "", false
	}
	what, ok := s.ids[id]
	return what, ok
}

// newProtection returns the protection of paths; nil when there are none.
func newProtection(paths []ProtectedPath, log *slog.Logger) *protection {
	paths = slices.DeleteFunc(slices.Clone(paths), func(p ProtectedPath) bool { return p.Path == "" })
	if len(paths) == 0 {
		return nil
	}
	return &protection{paths: paths, log: log, every: protectRefresh}
}

// current returns the identities of the protected paths (symlinks
// followed) and of the entries beneath the protected directories,
// refreshed when the last snapshot is older than pr.every. A nil
// protection has none (a nil snapshot).
func (pr *protection) current() *protSnapshot {
	if pr == nil {
		return nil
	}
	pr.mu.Lock()
	defer pr.mu.Unlock()
	if pr.snap != nil && time.Since(pr.at) < pr.every {
		return pr.snap
	}
	ids := map[fileID]string{}
	n := 0
	for _, pp := range pr.paths {
		var st unix.Stat_t
		if unix.Stat(pp.Path, &st) != nil {
			continue // not there (yet): nothing of it can be reached
		}
		ids[idOf(&st)] = pp.What
		if !isDir(&st) {
			continue
		}
		dir, err := filepath.EvalSymlinks(pp.Path)
		if err != nil {
			continue
		}
		_ = filepath.WalkDir(dir, func(p string, _ iofs.DirEntry, err error) error {
			if err != nil {
				return nil // unreadable: its entries stay protected through it
			}
			if n >= protectMaxEntries {
				if !pr.capped {
					pr.capped = true
					pr.log.Warn("file tools: more entries beneath the server's own directories than recorded; the rest are refused through their directory only",
						"limit", protectMaxEntries, "directory", dir)
				}
				return filepath.SkipAll
			}
			n++
			var est unix.Stat_t
			if unix.Lstat(p, &est) == nil {
				ids[idOf(&est)] = pp.What
			}
			return nil
		})
	}
	pr.snap, pr.at = &protSnapshot{ids: ids, clean: map[fileID]bool{}}, time.Now()
	return pr.snap
}

// protectedEntries returns protectedEntry's check against one snapshot,
// for a loop over the entries of one directory: protectedEntry takes the
// snapshot's lock and reads the clock on every call.
func (fs *fileSystem) protectedEntries() func(dev, ino uint64) bool {
	return fs.prot.current().holds
}
