// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"syscall"
	"time"
)

// racyWindow is how recently an input may have changed for an answer
// computed from it to be kept: a file written again within its
// timestamps' granularity could keep its identity, so an answer is kept
// only once every input has been still for this long (as git treats a
// "racily clean" index entry).
const racyWindow = 2 * time.Second

// fileID is what identifies one version of a file: a file rewritten in
// place changes its size, its modification time or its change time (which
// no one can set back), and a file replaced (apt and dpkg write a new file
// and rename it) changes its inode.
type fileID struct {
	name         string
	size         int64
	mtime, ctime int64 // nanoseconds
	dev, ino     uint64
}

// inputsID is the identity of check_updates' inputs: the status file and
// every file in the lists directory, in name order.
type inputsID []fileID

// pendingMemo keeps the last pending-updates answer with the identity of
// the inputs it was computed from.
type pendingMemo struct {
	mu  sync.Mutex
	id  inputsID
	ans *pending // nil: none kept
	// window is racyWindow (New sets it; tests shorten it).
	window time.Duration
}

// pending is check_updates' answer before its arguments apply: every
// upgradable package, sorted, and the lists read.
type pending struct {
	updates              []Update
	upgradable, security int
	lists                []List
	notes                []string
}

// identify returns the identity of the status file and of every regular
// file of the lists directory, and the last time any of them changed.
func (t *Toolset) identify() (inputsID, time.Time, error) {
	ents, err := os.ReadDir(t.lists)
	if err != nil {
		return nil, time.Time{}, err
	}
	paths := []string{t.status}
	for _, e := range ents {
		if e.Type().IsRegular() {
			paths = append(paths, filepath.Join(t.lists, e.Name()))
		}
	}
	id := make(inputsID, 0, len(paths))
	var last int64
	for _, p := range paths {
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err != nil {
			return nil, time.Time{}, fmt.Errorf("%s: %w", p, err)
		}
		f := fileID{name: p, size: st.Size, mtime: st.Mtim.Nano(), ctime: st.Ctim.Nano(), dev: uint64(st.Dev), ino: st.Ino} // Dev is 32 bits on some ports
		last = max(last, f.mtime, f.ctime)
		id = append(id, f)
	}
	return id, time.Unix(0, last), nil
}

// pendingUpdates returns the pending updates, computed afresh unless the
// answer kept was computed from inputs of the same identity. The identity
// is taken before the inputs are read: an input changed while they are
// read has another identity at the next call, which computes afresh.
func (t *Toolset) pendingUpdates(ctx context.Context) (*pending, error) {
	t.memo.mu.Lock()
	defer t.memo.mu.Unlock()
	id, last, idErr := t.identify()
	if idErr == nil && t.memo.ans != nil && slices.Equal(id, t.memo.id) {
		return t.memo.ans, nil
	}
	ans, err := t.computePending(ctx)
	if err != nil {
		return nil, err
	}
	t.memo.id, t.memo.ans = id, ans
	if idErr != nil || time.Since(last) < t.memo.window {
		t.memo.id, t.memo.ans = nil, nil // not kept: see racyWindow
	}
	return ans, nil
}
