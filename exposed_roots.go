// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/tailops/tailops/sandbox"
)

// exposedRootsWarning warns, in the log, about every file root that
// reaches files the kernel sandbox must never expose (sandbox.Exposed:
// /etc/shadow under a root of /etc, and the like), since Landlock cannot
// carve them out of a granted root and only the file tools' deny-list
// keeps them from a file:read token. It returns the warning for /readyz,
// which answers without a token: how many roots and what to do, and the
// well-known names of the files, never the roots. roots are the enabled
// file tools' (none: no file tool is enabled); with hostEtc (HOST_ETC)
// set, files under it count as well as /etc's. "" when no root reaches
// such a file. It reads directories: call it before the sandbox is
// applied.
func exposedRootsWarning(roots []string, hostEtc string, log *slog.Logger) string {
	exposed := sandbox.Exposed(roots, hostEtc)
	var entries []string
	for _, x := range exposed {
		log.Warn("file root reaches files the kernel sandbox must never expose; Landlock cannot carve them out of a root, "+
			"so only the file tools' deny-list keeps them from a file:read token; use narrower file roots "+
			"(tailops sandbox check fails on this configuration)",
			slog.String("root", x.Root), slog.String("files", strings.Join(x.Files, ", ")))
		for _, e := range x.Entries {
			if !slices.Contains(entries, e) {
				entries = append(entries, e)
			}
		}
	}
	if len(exposed) == 0 {
		return ""
	}
	return fmt.Sprintf("%d file root(s) reach files the kernel sandbox must never expose (%s): only the file tools' deny-list "+
		"keeps them from a file:read token; use narrower file roots (the server log names the roots)", len(exposed), strings.Join(entries, ", "))
}

// joinWarnings joins the non-empty warnings for /readyz.
func joinWarnings(ws ...string) string {
	return strings.Join(slices.DeleteFunc(ws, func(w string) bool { return w == "" }), "; ")
}
