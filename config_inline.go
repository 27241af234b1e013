// SPDX-License-Identifier: Apache-2.0

package main

import (
	"flag"
	"fmt"

	"github.com/tailops/tailops/server"
)

// maxInlineMax is the largest --inline-max: read_file's largest read.
const maxInlineMax = 4 << 20

// bindInline registers --inline-max.
func bindInline(fs *flag.FlagSet, n *int) {
	fs.IntVar(n, "inline-max", server.DefaultInlineMax, "most bytes of text a read_file or get_container_logs result carries; "+
		"a larger one is a resource link the client reads with resources/read (0: always inline)")
}

// resolveInline takes --inline-max from the config file's key inline_max
// when the flag and environment left it unset, and checks it.
func (c *config) resolveInline() error {
	src := "--inline-max"
	if !c.set["inline-max"] && c.file.InlineMax != nil {
		c.InlineMax, src = *c.file.InlineMax, fmt.Sprintf("config file %s: key %q", c.ConfigFile, "inline_max")
	}
	if c.InlineMax < 0 || c.InlineMax > maxInlineMax {
		return fmt.Errorf("%s: got %d, want 0 (always inline) to %d bytes", src, c.InlineMax, maxInlineMax)
	}
	return nil
}
