// SPDX-License-Identifier: Apache-2.0

package journal_test

import (
	"testing"

	"github.com/tailops/tailops/internal/deprules"
)

// TestDeps: journal is a leaf the journal tools build on; besides the
// standard library it links only the decompression libraries and siphash,
// and of TailOps only xzlimit (its xz reader).
func TestDeps(t *testing.T) {
	deprules.Check(t,
		"github.com/klauspost/compress",
		"github.com/pierrec/lz4/v4",
		"github.com/ulikunitz/xz",
		"github.com/dchest/siphash",
		"github.com/tailops/tailops/xzlimit",
	)
}
