// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"fmt"
	"strconv"
	"strings"
)

// Cursor names the entry in journalctl's form
// (s=SEQNUM_ID;i=SEQNUM;b=BOOT_ID;m=MONOTONIC;t=REALTIME;x=XOR_HASH, numbers
// in hex), for Reader.SeekCursor and for journalctl --cursor.
func (e *Entry) Cursor() string {
	return fmt.Sprintf("s=%s;i=%x;b=%s;m=%x;t=%x;x=%x", e.SeqnumID, e.Seqnum, e.BootID,
		uint64(e.Monotonic.Microseconds()), realtimeUsec(e.Realtime), e.xorHash)
}

type cursorFields struct {
	seqnumID ID
	seqnum   uint64
	realtime uint64
}

// parseCursor reads what SeekCursor needs from a cursor: the sequence
// number with its ID, and the wall clock. journalctl's cursors carry them
// all.
func parseCursor(s string) (cursorFields, error) {
	var c cursorFields
	var have [3]bool
	for _, part := range strings.Split(s, ";") {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return c, fmt.Errorf("parsing cursor %q: %q is not key=value", s, part)
		}
		var err error
		switch k {
		case "s":
			c.seqnumID, err = ParseID(v)
			have[0] = true
		case "i":
			c.seqnum, err = strconv.ParseUint(v, 16, 64)
			have[1] = true
		case "t":
			c.realtime, err = strconv.ParseUint(v, 16, 64)
			have[2] = true
		}
		if err != nil {
			return c, fmt.Errorf("parsing cursor %q: %w", s, err)
		}
	}
	if have != [3]bool{true, true, true} {
		return c, fmt.Errorf("parsing cursor %q: want s=, i= and t=", s)
	}
	return c, nil
}
