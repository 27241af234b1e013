// SPDX-License-Identifier: Apache-2.0

package main

import (
	"fmt"
	"io"

	"github.com/tailops/tailops/audit"
)

// runAuditVerify is `tailops audit verify FILE...`: exit 0 when the log
// and its rotated files are intact, 1 with the first broken record.
func runAuditVerify(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		fmt.Fprintln(stderr, "usage: tailops audit verify FILE...\n\nGiven the active log (audit.log), its rotated files are checked too, oldest first.")
		return exitError{2}
	}
	n, problem, err := audit.Verify(args...)
	if err != nil {
		return fmt.Errorf("verifying audit log: %w", err)
	}
	if problem != nil {
		fmt.Fprintf(stdout, "BROKEN: %s line %d (record seq %d): %s\n", problem.File, problem.Line, problem.Seq, problem.Reason)
		return exitError{1}
	}
	fmt.Fprintf(stdout, "ok: %d records intact\n", n)
	return nil
}
