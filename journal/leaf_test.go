// SPDX-License-Identifier: Apache-2.0

package journal

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportsOnlyDecompressors: journal is a leaf the journal tools build
// on; besides the standard library it imports only the decompression
// libraries and siphash, nothing of TailOps.
func TestImportsOnlyDecompressors(t *testing.T) {
	allowed := map[string]bool{
		"github.com/klauspost/compress/zstd": true,
		"github.com/pierrec/lz4/v4":          true,
		"github.com/ulikunitz/xz":            true,
		"github.com/dchest/siphash":          true,
	}
	files, err := filepath.Glob("*.go")
	if err != nil || len(files) == 0 {
		t.Fatalf("no Go files: %v", err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		ast, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range ast.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			if first, _, _ := strings.Cut(p, "/"); strings.Contains(first, ".") && !allowed[p] {
				t.Errorf("%s imports %s", f, p)
			}
		}
	}
}
