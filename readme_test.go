// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/tailops/tailops/tools"
)

// TestReadmeToolTableIsGenerated: README's tool table is what `go
// generate ./...` (the hidden `tailops docs`) writes from the registry,
// and it lists every tool the registry declares, once.
func TestReadmeToolTableIsGenerated(t *testing.T) {
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	want, err := withToolTable(string(readme), docToolsets())
	if err != nil {
		t.Fatalf("README.md: %v; put the tool table between those markers and run `go generate ./...`", err)
	}
	if string(readme) != want {
		got, want := firstDifferentLine(string(readme), want)
		t.Errorf("README.md's tool table is not what the registry generates: run `go generate ./...` and commit README.md\n   README: %s\ngenerated: %s", got, want)
	}
	_, table, _ := strings.Cut(want, toolTableStart)
	table, _, _ = strings.Cut(table, toolTableEnd)
	name := regexp.MustCompile("^\\| `([a-z_]+)` \\|")
	var listed []string
	for line := range strings.Lines(table) {
		if m := name.FindStringSubmatch(line); m != nil {
			listed = append(listed, m[1])
		}
	}
	if all := tools.Names(allTools()); !slices.Equal(listed, all) {
		t.Errorf("the generated table lists %v; the registry declares %v", listed, all)
	}
}

// firstDifferentLine returns the first line where a and b differ (each
// "(end)" once it has no more lines).
func firstDifferentLine(a, b string) (string, string) {
	al, bl := strings.Split(a, "\n"), strings.Split(b, "\n")
	for i := range max(len(al), len(bl)) {
		x, y := "(end)", "(end)"
		if i < len(al) {
			x = al[i]
		}
		if i < len(bl) {
			y = bl[i]
		}
		if x != y {
			return x, y
		}
	}
	return "", ""
}

// TestReadmeNamesEveryToolset: the --toolsets row of the flag table names
// every toolset, in the server's order.
func TestReadmeNamesEveryToolset(t *testing.T) {
	b, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	var row string
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "| `--toolsets` |") {
			row = line
		}
	}
	var names []string
	for _, ts := range (&config{env: environ{}}).toolsets(nil, nil, nil).sets {
		if ts.Name() != "probe" {
			names = append(names, "`"+ts.Name()+"`")
		}
	}
	last := -1
	for _, n := range names {
		i := strings.Index(row, n)
		if i <= last {
			t.Errorf("README's --toolsets row does not name %s (in the server's order %v):\n%s", n, names, row)
		}
		last = max(last, i)
	}
}

// TestSchemaCacheFresh: tools/schemas.json.gz, the schemas TypedSpec takes
// instead of inferring them at start-up, is what inferring them from
// today's types and libraries gives, and it holds every tool's input
// schema (so no tool is inferred at start-up).
func TestSchemaCacheFresh(t *testing.T) {
	want, err := schemaCacheFile()
	if err != nil {
		t.Fatal(err)
	}
	got, err := tools.SchemaCacheEmbedded()
	if err != nil {
		t.Fatalf("tools/schemas.json.gz: %v", err)
	}
	if !bytes.Equal(got, want) {
		g, w := firstDifferentLine(string(got), string(want))
		t.Fatalf("tools/schemas.json.gz is not what the tools' types give: run `go generate ./...` and commit it\n     file: %.300s\ninferred: %.300s", g, w)
	}
	n := 0
	for _, ts := range docToolsets() {
		for _, s := range ts.Tools() {
			if !bytes.Contains(want, []byte(`"`+s.Name()+` input `)) {
				t.Errorf("tool %s has no input schema in the cache", s.Name())
			}
			n++
		}
	}
	if n < 60 {
		t.Fatalf("only %d tools", n)
	}
}
