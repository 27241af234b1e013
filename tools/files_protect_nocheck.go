// SPDX-License-Identifier: Apache-2.0

//go:build tailops_nocheck

package tools

import "golang.org/x/sys/unix"

// guardStat refuses nothing in this build: the wall around the server's
// own paths is one of the checks it leaves out.
func (fs *fileSystem) guardStat(string, *unix.Stat_t) error { return nil }

// protectedEntry reports nothing protected in this build.
func (fs *fileSystem) protectedEntry(uint64, uint64) bool { return false }
