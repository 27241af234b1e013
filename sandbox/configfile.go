// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// ConfigFileGrant is how the policy lets the server re-read its config
// file (revocations reload on SIGHUP and on change). Landlock rules
// follow inodes: a rule on the file itself no longer covers a file that
// an editor, `sed -i`, `mv new conf` or configuration management put in
// its place by rename. So the rule is on the file's directory when that
// directory is one of its own; otherwise on the file alone, and a reload
// after such a replace fails (loudly) until a restart.
type ConfigFileGrant struct {
	// File is the config file as configured.
	File string
	// Path is what the policy grants read access to: the directory of
	// the file (symbolic links resolved) when Dir, else File.
	Path string
	// Dir reports that a reload reads whatever file is at File, including
	// one that replaced the original by rename: Path is its directory, or
	// the directory is already readable under another rule (CoveredBy).
	Dir bool
	// CoveredBy is that other rule's path (the state directory, say), or
	// empty.
	CoveredBy string
	// Refused says why the directory is not granted, when Dir is false.
	Refused string
	// Immutable reports a file that is never replaced while the server
	// runs: it lies in the Nix store, where a new configuration is a new
	// path (and the NixOS module restarts the service). It is granted
	// alone, and that needs no warning.
	Immutable bool
}

// immutableDirs hold files that never change once written: the Nix store.
var immutableDirs = []string{"/nix/store"}

// grantConfigFile decides the rule for the config file: its directory
// when that exposes nothing else (see ownDirectory), else the file alone.
// A file in one of immutable is never replaced. covered are paths other
// rules already grant read on: a directory inside one of them is readable
// anyway.
func grantConfigFile(file string, never, immutable, covered []string) ConfigFileGrant {
	g := ConfigFileGrant{File: file, Path: file}
	real, err := filepath.EvalSymlinks(file)
	if err != nil {
		g.Refused = fmt.Sprintf("resolving it: %v", err)
		return g
	}
	dir := filepath.Dir(real)
	for _, d := range immutable {
		if within(real, d) {
			g.Immutable = true
			g.Refused = "it lies in " + d + ", where files never change in place"
			return g
		}
	}
	for _, c := range covered {
		if c == "" {
			continue
		}
		if rc, err := filepath.EvalSymlinks(c); err == nil {
			c = rc
		}
		if within(dir, c) {
			g.Dir, g.CoveredBy = true, c
			return g
		}
	}
	if why := ownDirectory(dir, never); why != "" {
		g.Refused = "its directory " + dir + " " + why
		return g
	}
	g.Path, g.Dir = dir, true
	return g
}

// ownDirectory returns "" when a read rule on dir grants nothing but a
// directory's worth of files: none of never lies inside it, and it has no
// subdirectory (Landlock grants a directory's whole tree, so /etc, /root,
// a home or /var/lib never qualify). Otherwise it says why not.
func ownDirectory(dir string, never []string) string {
	if exposed := exposes(dir, never); len(exposed) > 0 {
		return holdsNeverExposed(exposed)
	}
	f, err := os.Open(dir)
	if err != nil {
		return fmt.Sprintf("cannot be listed to check what it holds: %v", err)
	}
	defer f.Close()
	for {
		ents, err := f.ReadDir(256)
		for _, e := range ents {
			if e.IsDir() {
				return "has subdirectories (" + e.Name() + "), which a rule on it would grant too"
			}
		}
		if errors.Is(err, io.EOF) || (err == nil && len(ents) == 0) {
			return ""
		}
		if err != nil {
			return fmt.Sprintf("cannot be listed to check what it holds: %v", err)
		}
	}
}

// exposes returns the entries of never that a read rule on dir covers:
// those at or beneath it (symbolic links resolved). An entry may be a
// glob: it counts when its text lies beneath dir, whether or not a file
// matches it yet.
func exposes(dir string, never []string) []string {
	var out []string
	for _, n := range never {
		real, err := filepath.EvalSymlinks(n)
		if err != nil {
			real = n
		}
		if within(real, dir) || within(n, dir) {
			out = append(out, n)
		}
	}
	return out
}

// holdsNeverExposed says that a directory holds the never-exposed
// entries exposed.
func holdsNeverExposed(exposed []string) string {
	return "holds " + strings.Join(exposed, ", ") + ", which must stay unreadable"
}

// within reports whether path is dir or lies beneath it.
func within(path, dir string) bool {
	path, dir = filepath.Clean(path), filepath.Clean(dir)
	return path == dir || dir == "/" || strings.HasPrefix(path, dir+"/")
}

// why is the reason explain shows next to the rule.
func (g ConfigFileGrant) why() string {
	if g.Dir {
		return "config: config file " + g.File + "'s directory (a reload reads a file an editor or mv put in its place)"
	}
	return "config: config file (alone: " + g.Refused + ")"
}

// Note says what the grant means for reloads, for explain and the log.
func (g ConfigFileGrant) Note() string {
	switch {
	case g.Immutable:
		return "config file " + g.File + " is readable alone: " + g.Refused + " (a new configuration is a new path, and a restart)"
	case g.CoveredBy != "":
		return "config file " + g.File + " lies in " + g.CoveredBy + ", which is readable anyway: reloads read a file that replaced it"
	case g.Dir:
		return "config file " + g.File + ": its directory " + g.Path + " is readable (Landlock rules follow inodes, and a rule on the file " +
			"would not cover a file that an editor, sed -i, mv or configuration management puts in its place); keep only TailOps' files there"
	}
	return "config file " + g.File + " is readable alone, not its directory: " + g.Refused + ". Landlock rules follow inodes, so after an " +
		"editor, sed -i, mv or configuration management replaces the file, reloads fail until TailOps restarts; edit it in place, or move it " +
		"into a directory of its own (such as /etc/tailops/)"
}
