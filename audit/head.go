// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
)

// head is the content of <path>.head: the seq and hex hash of the last
// committed record. It lets Verify notice records cut off the end of the
// log, which the chain alone cannot show.
type head struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

func headPath(path string) string { return path + ".head" }

// writeHead replaces the head file with k, through a temporary file and a
// rename so a reader sees the old or the new head, never half of one.
//
// Neither file is fsync'd, on purpose: the head is written only after the
// records it names were fsync'd, so whatever version survives a crash names
// a record that is durable, and a head that lags the log is not an error
// (Verify checks the hash at the head's seq, wherever that is). Losing the
// newest head in a crash only narrows tail-truncation detection to the
// records before it; an fsync here would double the fsyncs per commit.
func writeHead(path string, k link) error {
	data := fmt.Appendf(nil, "{\"seq\":%d,\"hash\":%q}\n", k.seq, k.hexHash())
	tmp := headPath(path) + ".tmp"
	if err := os.WriteFile(tmp, data, 0o600); err != nil {
		return fmt.Errorf("writing audit head: %w", err)
	}
	if err := os.Rename(tmp, headPath(path)); err != nil {
		return fmt.Errorf("writing audit head: %w", err)
	}
	return nil
}

// readHead reads the head file beside path. It returns nil, nil when there
// is none, and errBadHead (wrapped) when it exists but cannot be decoded.
func readHead(path string) (*head, error) {
	data, err := os.ReadFile(headPath(path))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading audit head: %w", err)
	}
	var h head
	if err := json.Unmarshal(data, &h); err != nil || h.Seq == 0 || len(h.Hash) != len(genesis) {
		return nil, fmt.Errorf("reading audit head %s: %w", headPath(path), errBadHead)
	}
	return &h, nil
}

var errBadHead = errors.New("not a valid head file")
