// SPDX-License-Identifier: Apache-2.0

package files

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"golang.org/x/sys/unix"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/tools"
)

// File tools: confinement and its limits.
//
// The file tools (list_directory, get_file_info, read_file, tail_file,
// search_files) read only beneath the configured roots (Config.Roots,
// default /var/log). Each root is resolved once, when the tools are built
// (a root that is a symlink is followed then, and later changes to that
// symlink have no effect), and opened as an O_PATH directory handle that
// is held for the life of the tools, so it stays usable once the process
// is under Landlock. Every caller path is cleaned lexically, mapped to a
// root (absolute paths must lie inside one; relative paths are relative
// to the first root), and opened with openat2(root, rel,
// RESOLVE_BENEATH|RESOLVE_NO_MAGICLINKS): "..", absolute symlinks (even
// ones that point back inside the root), symlinks that climb out, and
// /proc magic links all fail in the kernel. When a path goes through a
// symlink that stays inside, the path it resolved to is read back from
// /proc/self/fd for the deny-list; without /proc such paths are refused.
// Directory listings and searches walk with file descriptors, opening
// each child relative to its parent without following symlinks, so a
// symlink swapped in during a call cannot lead out.
//
// Inside the roots a deny-list of secrets applies (DefaultFileDeny plus
// Config.Deny), matched case-insensitively on every component of the
// path as given and of the path as resolved, relative to its root, and
// on backup copies (.bak, .old, ~) as on the originals. It matches names,
// with one exception: a key-file (*.pem) may hold a certificate or a
// private key, so the tools that read contents read it first and refuse
// it when it holds a private key (or is too large to check).
//
// Hard links are the hole neither openat2 nor Landlock can close: a hard
// link inside a root to a secret elsewhere on the same file system is,
// to the kernel, just a file inside the root, and the deny-list cannot
// catch it when it is named innocently. Two mitigations: roots must not
// be writable by untrusted users (creating the link needs write access to
// a directory in the root), and the tools that read contents (read_file,
// tail_file, search_files, and the is_text guess of get_file_info) refuse
// regular files whose link count is above one, reported as "denied by
// policy: hard-linked file". Log rotation does not create hard links, so
// this costs little.
//
// Building with the tag tailops_nocheck removes all of the above (see
// PathChecks): paths are opened with plain open(2), so that tests can show
// the Landlock layer alone still refuses escapes.

// File tool limits.
const (
	listDefaultLimit   = 1000
	listMaxLimit       = 10000
	listMaxScan        = 100000 // directory entries read before giving up on a complete listing
	readDefaultLimit   = 64 << 10
	readMaxLimit       = 4 << 20
	sniffLen           = 8 << 10 // bytes checked for NUL to call a file binary
	tailDefaultLines   = 100
	tailMaxLines       = 10000
	tailMaxBytes       = 4 << 20  // bytes tail_file reads backwards at most
	tailChunk          = 64 << 10 // the largest read tail_file makes at once
	tailFirstChunk     = 16 << 10 // its first read: 100 lines of most logs
	searchDefaultMax   = 100
	searchMaxResults   = 10000
	searchDefaultDepth = 8
	searchMaxDepth     = 64
	searchDefaultBytes = 64 << 20
	searchMaxBytes     = 1 << 30
	searchDefaultTime  = 10 * time.Second
	searchMaxTime      = 60 * time.Second
	searchReportEvery  = 100 * time.Millisecond // between progress reports (tools.Progress drops closer ones)
	searchMaxLine      = 1 << 20                // bytes of a line searched; the rest of a longer line is skipped
	searchLineText     = 500                    // bytes of a matching line returned
)

// fileSystem is the state the file tools share: the roots (opened by
// open), the deny-list and a counter of content bytes read.
type fileSystem struct {
	roots []*fsRoot
	deny  denyList
	prot  *protection
	log   *slog.Logger

	// bytesRead counts file content bytes read, so tests can check that
	// tail_file does not read whole files.
	bytesRead atomic.Int64
}

// newFileSystem is the file tools' state for cfg, whose deny-list must
// parse; it checks nothing else and opens nothing: its roots stay
// unavailable until open.
func newFileSystem(cfg Config, deny denyList) *fileSystem {
	fs := &fileSystem{deny: deny, log: cmp.Or(cfg.Logger, slog.Default()).With("component", "files")}
	fs.roots = newRoots(rootsOf(cfg))
	fs.prot = newProtection(cfg.Protected, fs.log)
	return fs
}

// declare declares the file tools over fs.
func (fs *fileSystem) declare() []tools.Spec {
	return []tools.Spec{
		fs.listDirectorySpec(),
		fs.getFileInfoSpec(),
		fs.readFileSpec(),
		fs.tailFileSpec(),
		fs.searchFilesSpec(),
	}
}

// needs returns what every file tool needs from the sandbox: read access
// to the roots (as configured: Open resolves a symlinked root, and
// Landlock follows the symlink the same way), the syscalls of fd-relative
// file access, and, when TailOps runs as root, CAP_DAC_READ_SEARCH: root
// is not the owner of every file under a root (postgres' logs, 0640
// postgres:adm, say), and without it reading them fails like any other
// user's. Which files remains Landlock's call.
func (fs *fileSystem) needs() sandbox.Needs {
	return sandbox.Needs{
		Read:         fs.rootPaths(),
		Syscalls:     []string{"openat2", "getdents64", "newfstatat", "fstat", "readlinkat", "pread64"},
		Capabilities: []string{"CAP_DAC_READ_SEARCH"},
	}
}

// rootPaths are the roots as configured, cleaned.
func (fs *fileSystem) rootPaths() []string {
	out := make([]string, len(fs.roots))
	for i, r := range fs.roots {
		out[i] = r.configured
	}
	return out
}

// fileTool declares a file tool: read-only hints, the file:read scope and
// the file roots. Confinement or policy refusals are logged.
func fileTool[In, Out any](fs *fileSystem, name, title, desc string, risk tools.Risk,
	run func(context.Context, *In) (*Out, error), text func(*Out) string) tools.Spec {
	return fileToolTyped(fs, name, title, desc, risk, run, text).Spec()
}

// fileToolTyped is fileTool's declaration before it is built, for a tool
// that sets more of it (search_files: Task).
func fileToolTyped[In, Out any](fs *fileSystem, name, title, desc string, risk tools.Risk,
	run func(context.Context, *In) (*Out, error), text func(*Out) string) tools.TypedSpec[In, Out] {
	return tools.TypedSpec[In, Out]{
		Name:        name,
		Title:       title,
		Description: desc,
		Scope:       auth.ScopeFileRead,
		Risk:        risk,
		Hints:       tools.ReadHints,
		Needs:       fs.needs(),
		Untrusted:   true, // file names and contents
		Run: func(ctx context.Context, in In) (out Out, err error) {
			defer func() {
				if r := recover(); r != nil {
					fs.log.Error("file tool panicked", "tool", name, "panic", r)
					err = errors.New(name + ": internal error")
				}
			}()
			res, err := run(ctx, &in)
			if err != nil {
				var pe *pathError
				if errors.As(err, &pe) && pe.refused {
					fs.log.Warn("file tool refused path", "tool", name, "path", shortPath(pe.path), "reason", pe.reason)
				}
				if errors.As(err, &pe) && pe.reason == reasonOutside {
					// The caller can act on this: say where it may look.
					pe.reason += "; the file roots are " + fs.rootNames()
				}
				return out, err
			}
			return *res, nil
		},
		Text: func(o Out) string { return text(&o) },
	}
}

// pathError is a failure about a caller's path. It names the path as the
// caller gave it, and a reason; never a resolved host path.
type pathError struct {
	path    string
	reason  string
	refused bool // a confinement or policy refusal, worth logging
}

// The reason follows the path in parentheses, never after a colon: tool
// errors pass the redaction rules (redact.Text), and `"x/secret.txt":
// outside roots` reads to them as a secret named secret.txt.
func (e *pathError) Error() string { return fmt.Sprintf("path %s (%s)", shortPath(e.path), e.reason) }

// Reasons shared by the builds.
const (
	reasonOutside = "outside roots"
	reasonDenied  = "denied by policy"
	reasonHardLnk = "denied by policy: hard-linked file"
	reasonKeyFile = "denied by policy: holds a private key"
	// reasonKeyUnchecked refuses a key-file (keyFileNames) whose contents
	// could not be checked.
	reasonKeyUnchecked = "denied by policy: a key file that could not be checked for a private key"
)

func refusedPath(p, reason string) error { return &pathError{path: p, reason: reason, refused: true} }
func badPath(p, reason string) error     { return &pathError{path: p, reason: reason} }

// shortPath quotes p for messages, cutting very long paths.
func shortPath(p string) string {
	const max = 256
	if len(p) > max {
		return fmt.Sprintf("%q… (%d bytes)", p[:max], len(p))
	}
	return fmt.Sprintf("%q", p)
}

// checkPathArg validates a path argument before any file system access.
func checkPathArg(p string) error {
	switch {
	case p == "":
		return tools.ArgErrorf("path", "required")
	case strings.IndexByte(p, 0) >= 0:
		return tools.ArgErrorf("path", "contains a NUL byte")
	case len(p) > pathMax:
		return badPath(p, fmt.Sprintf("too long (%d bytes; the limit is %d)", len(p), pathMax))
	}
	return nil
}

// rootNames lists the configured file roots, for messages.
func (fs *fileSystem) rootNames() string { return strings.Join(fs.rootPaths(), ", ") }

// readFailed is the error for a read that failed after the open
// succeeded: what failed and the kernel's reason, never a host path.
func readFailed(p, what string, err error) error {
	var errno unix.Errno
	if errors.As(err, &errno) {
		return badPath(p, what+": "+errno.Error())
	}
	return badPath(p, what)
}

// errnoReason turns an errno from opening or reading a path into a reason
// that names no path.
func errnoReason(err error) string {
	var errno unix.Errno
	switch {
	case errors.Is(err, unix.EXDEV):
		return reasonOutside
	case errors.Is(err, unix.ELOOP):
		return "refused: symlink loop or /proc magic link"
	case errors.Is(err, unix.ENOENT):
		return "not found"
	case errors.Is(err, unix.ENOTDIR):
		return "not a directory"
	case errors.Is(err, unix.EISDIR):
		return "is a directory"
	case errors.Is(err, unix.EACCES), errors.Is(err, unix.EPERM):
		return "permission denied"
	case errors.Is(err, unix.ENAMETOOLONG):
		return "name too long"
	case errors.Is(err, unix.ENOSYS), errors.Is(err, unix.E2BIG):
		return "cannot open: the kernel lacks openat2 (Linux 5.6 or later is required)"
	case errors.As(err, &errno):
		return "cannot open: " + unix.ErrnoName(errno)
	}
	return "cannot open"
}

// fileType names a file type from stat mode bits.
func fileType(mode uint32) string {
	switch mode & unix.S_IFMT {
	case unix.S_IFREG:
		return "file"
	case unix.S_IFDIR:
		return "dir"
	case unix.S_IFLNK:
		return "symlink"
	}
	return "other"
}

// modeString formats permission bits (with setuid, setgid, sticky) in
// octal.
func modeString(mode uint32) string { return fmt.Sprintf("%04o", mode&0o7777) }

func mtimeString(st *unix.Stat_t) string {
	return time.Unix(st.Mtim.Sec, st.Mtim.Nsec).UTC().Format(time.RFC3339)
}

func isRegular(st *unix.Stat_t) bool { return st.Mode&unix.S_IFMT == unix.S_IFREG }
func isDir(st *unix.Stat_t) bool     { return st.Mode&unix.S_IFMT == unix.S_IFDIR }

// looksBinary reports whether b (the start of a file) holds a NUL byte.
func looksBinary(b []byte) bool { return bytes.IndexByte(b, 0) >= 0 }

// sniffText guesses whether the regular file f holds text: no NUL in its
// first 8 KiB, and those bytes valid UTF-8 (ignoring a rune cut at the
// end).
func (fs *fileSystem) sniffText(f *node) (bool, error) {
	buf := make([]byte, sniffLen)
	n, err := fs.readAt(f, buf, 0)
	if err != nil {
		return false, err
	}
	b := trimPartialRune(buf[:n])
	return !looksBinary(b) && utf8.Valid(b), nil
}

// trimPartialRune drops an incomplete UTF-8 sequence at the end of b.
func trimPartialRune(b []byte) []byte {
	for i := 1; i <= utf8.UTFMax-1 && i <= len(b); i++ {
		c := b[len(b)-i]
		if c < utf8.RuneSelf {
			return b
		}
		if utf8.RuneStart(c) {
			if !utf8.FullRune(b[len(b)-i:]) {
				return b[:len(b)-i]
			}
			return b
		}
	}
	return b
}
