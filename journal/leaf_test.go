// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"os/exec"
	"strings"
	"testing"
)

// TestLinksOnlyDecompressors: journal is a leaf the journal tools build
// on; besides the standard library it links only the decompression
// libraries and siphash (and their own packages), nothing of TailOps.
func TestLinksOnlyDecompressors(t *testing.T) {
	allowed := []string{
		"github.com/klauspost/compress",
		"github.com/pierrec/lz4/v4",
		"github.com/ulikunitz/xz",
		"github.com/dchest/siphash",
	}
	out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, dep := range strings.Fields(string(out)) {
		first, _, _ := strings.Cut(dep, "/")
		if !strings.Contains(first, ".") || dep == "github.com/tailops/tailops/journal" {
			continue // the standard library (vendor/golang.org/x/... is its own copy), or journal itself
		}
		ok := false
		for _, p := range allowed {
			ok = ok || strings.HasPrefix(dep, p)
		}
		if !ok {
			t.Errorf("journal links %s", dep)
		}
	}
}
