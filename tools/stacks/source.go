// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
)

// composeFiles are the file names a stack directory's compose file may
// have, in the order compose (and Dockge) look for them.
var composeFiles = []string{"compose.yaml", "compose.yml", "docker-compose.yaml", "docker-compose.yml"}

// diskStack is a stack found in a stack root.
type diskStack struct {
	name string
	root string // the stack root
	dir  string // root/name
	file string // dir/compose.yaml or another of composeFiles
}

// findStack returns the stack name in the first root that has it (a
// directory with a compose file). ok is false when none does.
func findStack(roots []string, name string) (diskStack, bool, error) {
	if !validName(name) {
		return diskStack{}, false, checkName(name)
	}
	for _, root := range roots {
		s, ok, err := stackIn(root, name)
		if err != nil || ok {
			return s, ok, err
		}
	}
	return diskStack{}, false, nil
}

// stackIn returns the stack name in root, if root/name is a directory
// (not a symbolic link) holding one of composeFiles.
func stackIn(root, name string) (diskStack, bool, error) {
	dir := filepath.Join(root, name)
	st, err := os.Lstat(dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return diskStack{}, false, nil
	case err != nil:
		return diskStack{}, false, fmt.Errorf("reading stack root %s: %w", root, err)
	case !st.IsDir():
		return diskStack{}, false, nil
	}
	for _, f := range composeFiles {
		p := filepath.Join(dir, f)
		if st, err := os.Lstat(p); err == nil && st.Mode().IsRegular() {
			return diskStack{name: name, root: root, dir: dir, file: p}, true, nil
		}
	}
	return diskStack{}, false, nil
}

// diskStacks lists the stacks in roots, by name; a name in two roots is
// the first root's.
func diskStacks(roots []string) ([]diskStack, error) {
	seen := map[string]bool{}
	var out []diskStack
	for _, root := range roots {
		entries, err := os.ReadDir(root)
		if err != nil {
			return nil, fmt.Errorf("reading stack root %s: %w", root, err)
		}
		for _, e := range entries {
			if !e.IsDir() || !validName(e.Name()) || seen[e.Name()] {
				continue
			}
			s, ok, err := stackIn(root, e.Name())
			if err != nil {
				return nil, err
			}
			if ok {
				seen[s.name] = true
				out = append(out, s)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}
