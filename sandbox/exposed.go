// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
)

// neverExposed are the files the kernel sandbox must never let the server
// read: host credentials that no tool needs. Landlock grants whole trees
// and cannot carve a file out of a granted one, so a file root above one
// of these (a root of /etc holds /etc/shadow) leaves only the file tools'
// name deny-list between a file:read token and it. `tailops sandbox
// check` tries to read every one that exists and fails when it can, and
// `tailops serve` warns, in its log and on /readyz, about every file root
// that reaches one. Entries are globs; a match ending in .pub (the public
// half of a key) is left out.
var neverExposed = []string{
	// Password hashes, their backups and the old passwords pam keeps.
	"/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/security/opasswd",
	// SSH host keys, and root's own keys.
	"/etc/ssh/ssh_host_*_key", "/root/.ssh/id_*",
	// TLS private keys (Debian's ssl-cert group directory; Fedora's and
	// RHEL's /etc/pki/tls/private, and the CA's and libvirt's beside it).
	"/etc/ssl/private/*", "/etc/pki/*/private/*",
	// The system NSS database's private keys (Fedora's and RHEL's
	// /etc/pki/nssdb: key4.db, or key3.db in the legacy format).
	"/etc/pki/nssdb/key*.db",
	// WireGuard configurations and keys, and the host Tailscale node's
	// state (its node and machine keys).
	"/etc/wireguard/*", "/var/lib/tailscale/tailscaled.state",
}

// NeverExposed returns the globs of the files the kernel sandbox must
// never let the server read.
func NeverExposed() []string { return slices.Clone(neverExposed) }

// exposedFile is an existing file matching an entry of neverExposed.
type exposedFile struct {
	Entry string // the neverExposed entry it matches
	Path  string // the file
}

// hostGlobs returns the globs of entry e: e itself and, with hostEtc set
// (HOST_ETC), its copy under hostEtc when it lies under /etc.
func hostGlobs(e, hostEtc string) []string {
	if h := (HostPaths{Etc: hostEtc}).Path(e); h != e {
		return []string{e, h}
	}
	return []string{e}
}

// neverExposedFiles returns the existing files matching neverExposed, and
// with hostEtc set (HOST_ETC), those under it in place of /etc too. It
// reads directories, so it must run before the sandbox is applied.
func neverExposedFiles(hostEtc string) []exposedFile {
	var out []exposedFile
	for _, e := range neverExposed {
		for _, g := range hostGlobs(e, hostEtc) {
			matches, _ := filepath.Glob(g) // the globs are well-formed
			for _, m := range matches {
				if !strings.HasSuffix(m, ".pub") {
					out = append(out, exposedFile{Entry: e, Path: m})
				}
			}
		}
	}
	return out
}

// sharedDirs are directories that hold much more than any one program's
// files: a read-write rule on one of them, for the state or the audit
// directory, would let the server change all of it (with /etc, write
// /etc/shadow). A glob stands for every directory it matches: the homes.
var sharedDirs = []string{
	"/", "/bin", "/boot", "/dev", "/etc", "/home", "/home/*", "/lib", "/lib32", "/lib64", "/libx32",
	"/media", "/mnt", "/nix", "/nix/store", "/nix/var", "/opt", "/proc", "/root", "/run", "/run/user",
	"/run/user/*", "/sbin", "/srv", "/sys", "/tmp", "/usr", "/usr/bin", "/usr/lib", "/usr/lib64",
	"/usr/local", "/usr/sbin", "/usr/share", "/var", "/var/cache", "/var/home", "/var/home/*",
	"/var/lib", "/var/lib/private", "/var/local", "/var/log", "/var/mail", "/var/opt", "/var/run",
	"/var/spool", "/var/tmp",
}

// CheckOwnDir returns nil when dir may be granted read-write as the
// server's state or audit directory: a directory of its own. Otherwise
// it says why not: dir, or what its symbolic links resolve to, is a
// shared system directory (/, /etc, /var/log, /tmp, a home...) or holds
// a file the sandbox must never expose (NeverExposed, and with hostEtc
// set its copies there). The error reads after the directory's name:
// "/var/log is a shared system directory". dir need not exist yet.
func CheckOwnDir(dir, hostEtc string) error {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return fmt.Errorf("cannot be made absolute: %w", err)
	}
	paths := []string{abs}
	if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
		paths = append(paths, real)
	}
	var never []string
	for _, e := range neverExposed {
		never = append(never, hostGlobs(e, hostEtc)...)
	}
	for _, p := range paths {
		subject := "" // dir itself
		if p != abs {
			subject = "resolves to " + p + ", which "
		}
		for _, s := range sharedDirs {
			if ok, _ := filepath.Match(s, p); ok { // the globs are well-formed
				return errors.New(subject + "is a shared system directory")
			}
		}
		if x := exposes(p, never); len(x) > 0 {
			return errors.New(subject + holdsNeverExposed(x))
		}
	}
	return nil
}

// Exposure is a file root that reaches files the kernel sandbox must
// never expose.
type Exposure struct {
	// Root is the file root, as configured.
	Root string
	// Files are the files it reaches.
	Files []string
	// Entries are the NeverExposed entries those files match, such as
	// "/etc/shadow": well-known names, safe to show anyone.
	Entries []string
}

// Exposed returns, for each of the roots that reaches (contains, with
// symlinks resolved) an existing file the sandbox must never expose,
// which ones. With hostEtc set (HOST_ETC), files under it count as well
// as those under /etc. It reads directories: call it before Apply.
func Exposed(roots []string, hostEtc string) []Exposure {
	files := neverExposedFiles(hostEtc)
	var out []Exposure
	for _, root := range roots {
		rr, err := filepath.EvalSymlinks(root)
		if err != nil {
			continue // a root that does not exist exposes nothing
		}
		x := Exposure{Root: root}
		for _, f := range files {
			real, err := filepath.EvalSymlinks(f.Path)
			if err != nil {
				real = f.Path
			}
			if beneath(rr, real) || beneath(rr, f.Path) {
				x.Files = append(x.Files, f.Path)
				if !slices.Contains(x.Entries, f.Entry) {
					x.Entries = append(x.Entries, f.Entry)
				}
			}
		}
		if len(x.Files) > 0 {
			out = append(out, x)
		}
	}
	return out
}

// beneath reports whether p is dir or lies under it, comparing whole
// components.
func beneath(dir, p string) bool {
	dir = strings.TrimSuffix(dir, "/")
	return p == dir || strings.HasPrefix(p, dir+"/")
}
