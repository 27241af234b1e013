// SPDX-License-Identifier: Apache-2.0

package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
)

// The README's tool table is generated from the registry, between these
// markers (the same form as README's run-command and test-command), by
// the hidden command `tailops docs`, which `go generate ./...` runs.
const (
	toolTableStart = "<!-- tool-table -->\n"
	toolTableEnd   = "<!-- /tool-table -->\n"
)

// runDocs is the hidden `tailops docs [--readme FILE]`: it rewrites the
// tool table of README.md (or FILE) from the registry as the default
// configuration builds it, and leaves the rest of the file as it is.
func runDocs(args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("docs", flag.ContinueOnError)
	fs.SetOutput(stderr)
	readme := fs.String("readme", "README.md", "the file whose tool table is rewritten")
	schemas := fs.String("schemas", "", "also rewrite this file, the tools' JSON schemas as inferred from their types, gzipped (tools/schemas.json.gz)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("docs: unexpected argument %q", fs.Arg(0))
	}
	if tags := testBuild(); len(tags) > 0 {
		return fmt.Errorf("docs: a test-only build (tags %s) declares test tools; build without them", strings.Join(tags, ","))
	}
	if *schemas != "" {
		if err := writeSchemaCache(*schemas, stdout); err != nil {
			return err
		}
	}
	old, err := os.ReadFile(*readme)
	if err != nil {
		return fmt.Errorf("reading the README: %w", err)
	}
	doc, err := withToolTable(string(old), docToolsets())
	if err != nil {
		return fmt.Errorf("%s: %w", *readme, err)
	}
	if doc == string(old) {
		return nil
	}
	if err := os.WriteFile(*readme, []byte(doc), 0o644); err != nil {
		return fmt.Errorf("writing the README: %w", err)
	}
	fmt.Fprintf(stdout, "docs: rewrote the tool table of %s\n", *readme)
	return nil
}

// writeSchemaCache writes path, the schema cache TypedSpec reads
// (tools/schemas.go), gzipped, from docToolsets' tools, when its content
// differs.
func writeSchemaCache(path string, stdout io.Writer) error {
	b, err := schemaCacheFile()
	if err != nil {
		return err
	}
	if old, err := os.ReadFile(path); err == nil {
		if content, err := tools.SchemaCacheContent(old); err == nil && bytes.Equal(content, b) {
			return nil
		}
	}
	gz, err := tools.SchemaCacheGzip(b)
	if err != nil {
		return fmt.Errorf("compressing the schema cache: %w", err)
	}
	if err := os.WriteFile(path, gz, 0o644); err != nil {
		return fmt.Errorf("writing the schema cache: %w", err)
	}
	fmt.Fprintf(stdout, "docs: rewrote %s\n", path)
	return nil
}

// schemaCacheFile is tools/schemas.json.gz's content as docToolsets' tools' types give it.
func schemaCacheFile() ([]byte, error) {
	var specs []tools.Spec
	for _, ts := range docToolsets() {
		specs = append(specs, ts.Tools()...)
	}
	b, err := tools.SchemaCacheFile(specs)
	if err != nil {
		return nil, fmt.Errorf("the schema cache: %w", err)
	}
	return b, nil
}

// docToolsets is the registry the documentation and the tool snapshots
// describe: every toolset as the default configuration builds it, with
// nothing read from the environment (no HOST_* prefixes, no DOCKER_HOST),
// so that what it says does not depend on the machine it runs on.
func docToolsets() []tools.Toolset {
	c := &config{}
	return c.toolsets(nil, nil, nil).sets
}

// withToolTable returns doc with the text between its tool-table markers
// replaced by the table of sets' tools.
func withToolTable(doc string, sets []tools.Toolset) (string, error) {
	before, rest, ok := strings.Cut(doc, toolTableStart)
	if !ok {
		return "", fmt.Errorf("no line %q", strings.TrimSpace(toolTableStart))
	}
	_, after, ok := strings.Cut(rest, toolTableEnd)
	if !ok {
		return "", fmt.Errorf("no line %q after %q", strings.TrimSpace(toolTableEnd), strings.TrimSpace(toolTableStart))
	}
	if strings.Contains(after, toolTableStart) {
		return "", errors.New("more than one tool table")
	}
	return before + toolTableStart + toolTable(sets) + toolTableEnd + after, nil
}

// toolTable renders the tools of sets as a Markdown table, one row per
// tool in the registry's order.
func toolTable(sets []tools.Toolset) string {
	var b bytes.Buffer
	b.WriteString("| tool | toolset | scope | risk | approval | effect | what |\n")
	b.WriteString("|---|---|---|---|---|---|---|\n")
	for _, ts := range sets {
		for _, s := range ts.Tools() {
			cells := []string{"`" + s.Name() + "`", ts.Name(), scopeDoc(s.Scope), s.Risk.String(),
				approvalDoc(&s), effectDoc(&s) + taskDoc(&s), firstSentence(s.Tool.Description)}
			for i, c := range cells {
				cells[i] = strings.ReplaceAll(c, "|", `\|`)
			}
			fmt.Fprintf(&b, "| %s |\n", strings.Join(cells, " | "))
		}
	}
	return b.String()
}

// scopeDoc names the scope a tool requires: "any token" for one that
// requires authentication only.
func scopeDoc(s auth.Scope) string {
	if s == auth.ScopeAuthenticated {
		return "any token"
	}
	return string(s)
}

// approvalDoc says whether calls of the tool wait for approval by its own
// declaration, before the configuration's approval list adds any: "always"
// (critical), "by default" (critical, but the configuration may lower the
// risk of some calls: RiskFor), "some calls" (its ApprovalFor decides from
// the arguments) or "no".
func approvalDoc(s *tools.Spec) string {
	switch {
	case s.NeedsApproval() && s.RiskFor != nil:
		return "by default"
	case s.NeedsApproval():
		return "always"
	case s.ApprovalFor != nil:
		return "some calls"
	}
	return "no"
}

// effectDoc says what the tool's annotations let it do to the host:
// "read-only", "destructive", or "writes" (changes state, additively).
func effectDoc(s *tools.Spec) string {
	switch {
	case s.ReadOnly():
		return "read-only"
	case s.Destructive():
		return "destructive"
	}
	return "writes"
}

// taskDoc marks a tool a client may call as an MCP task: ", task".
func taskDoc(s *tools.Spec) string {
	if s.Task() {
		return ", task"
	}
	return ""
}

// firstSentence returns the first sentence of a tool's description: up to
// the first full stop outside parentheses that ends the text or is
// followed by a space.
func firstSentence(desc string) string {
	desc = strings.Join(strings.Fields(desc), " ")
	depth := 0
	for i, r := range desc {
		switch r {
		case '(':
			depth++
		case ')':
			depth = max(depth-1, 0)
		case '.':
			if depth == 0 && (i+1 == len(desc) || desc[i+1] == ' ') {
				return desc[:i+1]
			}
		}
	}
	return desc
}
