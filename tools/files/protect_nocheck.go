// SPDX-License-Identifier: Apache-2.0

//go:build tailops_nocheck

package files

import (
	"log/slog"

	"golang.org/x/sys/unix"
)

// protection is empty in this build: the file tools have no wall around
// the server's own paths, and only the start check keeps roots from them.
type protection struct{}

func newProtection([]ProtectedPath, *slog.Logger) *protection { return nil }

// guardStat refuses nothing in this build: the wall around the server's
// own paths is one of the checks it leaves out.
func (fs *fileSystem) guardStat(string, *unix.Stat_t) error { return nil }

// protectedEntry reports nothing protected in this build.
func (fs *fileSystem) protectedEntry(uint64, uint64) bool { return false }

// protectedEntries reports nothing protected in this build.
func (fs *fileSystem) protectedEntries() func(dev, ino uint64) bool {
	return func(uint64, uint64) bool { return false }
}
