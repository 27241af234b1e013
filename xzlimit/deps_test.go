// SPDX-License-Identifier: Apache-2.0

package xzlimit_test

import (
	"testing"

	"github.com/tailops/tailops/internal/deprules"
)

// TestDeps: xzlimit, which reads outside input for the journal and the
// packages tools, links the standard library and the xz package's LZMA2
// decoder alone.
func TestDeps(t *testing.T) {
	deprules.Check(t, "github.com/ulikunitz/xz")
}
