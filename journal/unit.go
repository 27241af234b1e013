// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
)

// UnitMatches are the match sets, one Reader each, whose merged entries are
// a unit's journal as `journalctl -u` shows it: its processes' entries
// (_SYSTEMD_UNIT) and PID 1's messages about it (UNIT with _PID=1). Each
// set also carries the matches in also.
func UnitMatches(unit string, also ...string) [][]string {
	return [][]string{
		append([]string{"_SYSTEMD_UNIT=" + unit}, also...),
		append([]string{"UNIT=" + unit, "_PID=1"}, also...),
	}
}

// DescribeError describes an error of this package naming the journal
// file by its base name only, so a tool can show it without the host's
// directory layout.
func DescribeError(err error) string {
	var fe *FormatError
	var pe *fs.PathError
	switch {
	case errors.As(err, &fe):
		return fmt.Sprintf("%s (corrupt at offset %#x: %s)", filepath.Base(fe.Path), fe.Offset, fe.Reason)
	case errors.As(err, &pe):
		return fmt.Sprintf("%s (%v)", filepath.Base(pe.Path), pe.Err)
	default:
		return err.Error()
	}
}
