// SPDX-License-Identifier: Apache-2.0

package audit

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strconv"
	"syscall"
)

// head is the content of <path>.head: the seq and hex hash of the last
// committed record. It lets Verify notice records cut off the end of the
// log, which the chain alone cannot show.
type head struct {
	Seq  uint64 `json:"seq"`
	Hash string `json:"hash"`
}

func headPath(path string) string { return path + ".head" }

// link is the record the head names.
func (h *head) link() (link, error) {
	var k link
	b, err := hex.DecodeString(h.Hash)
	if err != nil || len(b) != len(k.hash) {
		return k, fmt.Errorf("%w: hash %q", errBadHead, h.Hash)
	}
	k.seq = h.Seq
	copy(k.hash[:], b)
	return k, nil
}

// headSize is the head file's fixed size: the JSON padded with spaces, so
// every update overwrites the whole file in one small write and the file
// never needs truncating.
const headSize = 128

// writeHead overwrites the head file with k, in place: one pwrite of
// headSize bytes at offset 0 through a descriptor kept open (hf), created
// on first use. Replacing the file by rename on every commit cost more than
// the log's own append and fsync on ext4.
//
// The head is not fsync'd, on purpose: it is written only after the
// records it names were fsync'd, so whatever version survives a crash names
// a record that is durable, and a head that lags the log is not an error
// (Verify checks the hash at the head's seq, wherever that is). Losing the
// newest head in a crash only narrows tail-truncation detection to the
// records before it. A 128-byte write within one sector is not torn by the
// storage devices this runs on; a torn head would show as "not a valid
// head file", never as a valid head naming the wrong record.
func writeHead(hf **os.File, path string, k link) error {
	// {"seq":N,"hash":"HEX"} padded with spaces, built without fmt: this
	// runs on every commit.
	var buf [headSize]byte
	data := append(buf[:0], `{"seq":`...)
	data = strconv.AppendUint(data, k.seq, 10)
	data = append(data, `,"hash":"`...)
	data = hex.AppendEncode(data, k.hash[:])
	data = append(data, `"}`...)
	if len(data) >= headSize {
		return fmt.Errorf("writing audit head: %d bytes do not fit", len(data))
	}
	for len(data) < headSize-1 {
		data = append(data, ' ')
	}
	data = append(data, '\n')
	if *hf == nil {
		f, err := os.OpenFile(headPath(path), os.O_RDWR|os.O_CREATE|syscall.O_NOFOLLOW, 0o600)
		if err != nil {
			return fmt.Errorf("opening audit head: %w", err)
		}
		*hf = f
	}
	if _, err := (*hf).WriteAt(data, 0); err != nil {
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
