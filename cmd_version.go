// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// runVersion is `tailops version`: version, commit, Go version, build
// settings and every module compiled in.
func runVersion(w io.Writer) error {
	bi, ok := debug.ReadBuildInfo()
	c := commit
	if ok && c == "" {
		for _, s := range bi.Settings {
			if s.Key == "vcs.revision" {
				c = s.Value
			}
		}
	}
	if c == "" {
		c = "unknown"
	}
	fmt.Fprintf(w, "tailops %s\ncommit %s\n%s %s/%s\n", version, c, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	if !ok {
		return nil
	}
	fmt.Fprintln(w, "\nbuild settings:")
	for _, s := range bi.Settings {
		fmt.Fprintf(w, "  %s=%s\n", s.Key, s.Value)
	}
	fmt.Fprintln(w, "\nmodules:")
	fmt.Fprintf(w, "  %s %s\n", bi.Main.Path, bi.Main.Version)
	for _, m := range bi.Deps {
		v := m.Version
		if m.Replace != nil {
			v += " => " + m.Replace.Path + " " + m.Replace.Version
		}
		fmt.Fprintf(w, "  %s %s %s\n", m.Path, v, m.Sum)
	}
	return nil
}
