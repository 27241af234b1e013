// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"bufio"
	"debug/elf"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

// libraryPaths are read by the dynamic loader of an executed ELF binary.
var libraryPaths = []string{"/etc/ld.so.cache", "/lib", "/lib64", "/usr/lib", "/usr/lib64"}

// addExec grants read and execute on each declared binary and on what
// the kernel executes on its behalf (the ELF interpreter, a script's #!
// interpreter), plus read on the library directories for dynamically
// linked ones. It returns the binaries, resolved to absolute paths.
func (b *builder) addExec(bins []string) ([]string, error) {
	var out []string
	for _, bin := range bins {
		why := "exec: " + strings.Join(b.execFor[bin], ", ")
		path := bin
		if !filepath.IsAbs(bin) {
			lp, err := exec.LookPath(bin)
			if err != nil {
				// No rule can name it, so executing it fails.
				b.missing = append(b.missing, PathRule{Path: bin, Access: AccessRead | AccessExec, Why: []string{why + " (not found in PATH)"}})
				continue
			}
			path = lp
		}
		if !slices.Contains(out, path) {
			out = append(out, path)
		}
		if err := b.addExecutable(path, why, 0); err != nil {
			return nil, err
		}
	}
	return out, b.err
}

func (b *builder) addExecutable(path, why string, depth int) error {
	b.add(path, AccessRead|AccessExec, why)
	if depth > 2 {
		return nil
	}
	interp, dynamic, err := interpreterOf(path)
	if err != nil {
		return fmt.Errorf("reading executable %s: %w", path, err)
	}
	if interp == "" {
		return nil
	}
	if dynamic {
		for _, l := range libraryPaths {
			b.add(l, AccessRead, why+" (shared libraries)")
		}
	}
	return b.addExecutable(interp, why+" (interpreter of "+path+")", depth+1)
}

// interpreterOf returns what the kernel executes for path besides path
// itself: the PT_INTERP of a dynamically linked ELF file (dynamic is then
// true) or the #! interpreter of a script. A missing file is no error:
// it ends up in Policy.Missing.
func interpreterOf(path string) (interp string, dynamic bool, err error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return "", false, nil
	}
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	head := make([]byte, 4)
	if _, err := f.ReadAt(head, 0); err != nil {
		return "", false, nil // too short to be either
	}
	switch {
	case string(head) == elf.ELFMAG:
		ef, err := elf.NewFile(f)
		if err != nil {
			return "", false, err
		}
		for _, prog := range ef.Progs {
			if prog.Type != elf.PT_INTERP {
				continue
			}
			buf := make([]byte, prog.Filesz)
			if _, err := prog.ReadAt(buf, 0); err != nil {
				return "", false, err
			}
			return strings.TrimRight(string(buf), "\x00"), true, nil
		}
		return "", false, nil
	case string(head[:2]) == "#!":
		line, _ := bufio.NewReader(f).ReadString('\n')
		fields := strings.Fields(strings.TrimPrefix(line, "#!"))
		if len(fields) == 0 {
			return "", false, nil
		}
		return fields[0], false, nil
	}
	return "", false, nil
}
