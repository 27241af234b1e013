// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"strings"
)

// installed is one package of the dpkg status file.
type installed struct {
	Name, Version, Arch, Status, Source, Section string
	// Size is Installed-Size, in KiB; -1 when absent.
	Size int64
}

// state is the package's state, the third word of its Status field
// ("installed", "config-files", "half-configured"…).
func (p *installed) state() string {
	f := strings.Fields(p.Status)
	if len(f) != 3 {
		return ""
	}
	return f[2]
}

// held reports whether the package is on hold (the first word of Status).
func (p *installed) held() bool { return strings.HasPrefix(p.Status, "hold ") }

// statusKeys are the fields read from the status file, in the order of
// paragraph.fields.
var statusKeys = []string{"Package", "Version", "Architecture", "Status", "Source", "Section", "Installed-Size"}

// readStatus streams the dpkg status file at path to fn, one package at a
// time. A malformed file is an error naming it.
func readStatus(path string, fn func(*installed) error) error {
	f, err := os.Open(path)
	if err != nil {
		return statusOpenError(path, err)
	}
	defer f.Close()
	var p installed
	err = newControlParser(f, statusKeys...).parse(func(par *paragraph) error {
		v := par.fields
		if v[0] == "" {
			return fmt.Errorf("line %d: a paragraph without a Package field", par.line)
		}
		p = installed{Name: v[0], Version: v[1], Arch: v[2], Status: v[3], Source: v[4], Section: v[5], Size: -1}
		if v[6] != "" {
			n, err := strconv.ParseInt(v[6], 10, 64)
			if err != nil || n < 0 {
				return fmt.Errorf("line %d: package %s: Installed-Size %q is not a number", par.line, p.Name, v[6])
			}
			p.Size = n
		}
		return fn(&p)
	})
	if err != nil {
		return fmt.Errorf("reading the dpkg status file %s: %w", path, err)
	}
	return nil
}

// statusOpenError says what to do when the status file cannot be opened.
func statusOpenError(path string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("the dpkg status file %s does not exist: this is not a Debian-based system, or, in a container, "+
			"the host's /var/lib/dpkg is not mounted (-v /var/lib/dpkg:/host/var/lib/dpkg:ro -e HOST_VAR=/host/var)", path)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("reading the dpkg status file %s: permission denied (it is normally world-readable: check the mount and the sandbox)", path)
	}
	return fmt.Errorf("reading the dpkg status file: %w", err)
}
