// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	_ "embed"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"slices"
	"strconv"
	"sync"

	"github.com/mark3labs/mcp-go/mcp"
)

// Inferring a typed tool's JSON schemas from its Go types (mcp-go's
// WithInputSchema and WithOutputSchema: reflection, then marshalling and
// unmarshalling the schema) was about a third of the server's start-up
// CPU for the 61 tools. `go generate` (the hidden `tailops docs
// --schemas`) writes what that inference gives into schemas.json.gz, in
// mcp-go's SchemaCache form, and TypedSpec.Spec takes a tool's schemas
// from there when the entry's key still matches its types: the key holds
// a digest of the argument and result types' structure (every field's
// name, type, tag and embedding, named types included), so a type whose
// fields changed after the file was written misses the cache and is
// inferred as before. What the key does not cover — a type's methods
// (jsonschema-go reads encoding.TextMarshaler for map keys), the
// libraries' versions, JSONSCHEMAGODEBUG — the root package's
// TestSchemaCacheFresh does: it fails when the file is not what the
// inference gives today.

// schemasGzip is schemas.json gzipped: the appliance image has a size
// budget, and the schemas repeat the types' descriptions. The tool
// snapshots (testdata/toolsnaps) show the same schemas for review.
//
//go:embed schemas.json.gz
var schemasGzip []byte

// schemaCache is schemas.json.gz's content, read on the first typed tool built.
var schemaCache = sync.OnceValue(func() *mcp.SchemaCache {
	c := mcp.NewSchemaCache()
	b, err := SchemaCacheContent(schemasGzip)
	if err != nil || c.UnmarshalJSON(b) != nil {
		// Every lookup misses: the schemas are inferred (and a build
		// without inference, tailops_noinfer, stops at its first tool).
		return mcp.NewSchemaCache()
	}
	return c
})

// SchemaCacheContent returns the content of gz, schemas.json.gz's bytes.
func SchemaCacheContent(gz []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(gz))
	if err != nil {
		return nil, err
	}
	return io.ReadAll(zr)
}

// schemaKey is the cache key of a tool's input or output schema (what is
// "input" or "output") derived from t.
func schemaKey(tool, what string, t reflect.Type) string {
	h := sha256.New()
	describeType(h, t, map[reflect.Type]bool{})
	return tool + " " + what + " " + hex.EncodeToString(h.Sum(nil)[:8])
}

// describeType writes t's structure as the schema inference reads it:
// kinds, element types, and each struct field's name, tag and type, with
// every named type's name and, the first time it appears, its structure.
// Each string is written with its length before it, so no two structures
// write the same bytes.
func describeType(w io.Writer, t reflect.Type, seen map[reflect.Type]bool) {
	str := func(s string) {
		var n [binary.MaxVarintLen64]byte
		w.Write(n[:binary.PutUvarint(n[:], uint64(len(s)))])
		io.WriteString(w, s)
	}
	if t.Name() != "" {
		str(t.PkgPath())
		str(t.Name())
		if seen[t] {
			return
		}
		seen[t] = true
	}
	str(t.Kind().String())
	switch t.Kind() {
	case reflect.Pointer, reflect.Slice:
		describeType(w, t.Elem(), seen)
	case reflect.Array:
		str(strconv.Itoa(t.Len()))
		describeType(w, t.Elem(), seen)
	case reflect.Map:
		describeType(w, t.Key(), seen)
		describeType(w, t.Elem(), seen)
	case reflect.Struct:
		str(strconv.Itoa(t.NumField()))
		for i := range t.NumField() {
			f := t.Field(i)
			str(f.Name)
			str(strconv.FormatBool(f.Anonymous))
			str(string(f.Tag))
			describeType(w, f.Type, seen)
		}
	}
}

// toolSchemas are a typed tool's schemas as TypedSpec.Spec sets them: the
// input schema raw, and the output schema raw as mcp-go encodes the one
// WithOutputSchema infers (nil when there is none).
type toolSchemas struct {
	inKey, outKey string
	in, out       json.RawMessage
}

// schemasOf returns the tool's schemas from c, for argument and result
// types in and out, inferring each that is not there with infer (nil in a
// build without inference: a schema missing from the cache there is a
// build error, stated at the first start).
func schemasOf(c *mcp.SchemaCache, tool string, in, out reflect.Type, infer *inferers) toolSchemas {
	s := toolSchemas{inKey: schemaKey(tool, "input", in), outKey: schemaKey(tool, "output", out)}
	var inOK, outOK bool
	s.in, inOK = c.GetRaw(s.inKey)
	s.out, outOK = c.GetRaw(s.outKey)
	if inOK && outOK {
		return s
	}
	if infer == nil {
		panic(fmt.Sprintf("tool %s: its schemas are not in tools/schemas.json.gz, and this build (tailops_noinfer) infers none: run go generate ./... and build again", tool))
	}
	if !inOK {
		s.in = inferInput(infer.in, in)
	}
	if !outOK {
		s.out = inferOutput(infer.out)
	}
	return s
}

// inferers are mcp-go's schema options for a tool's argument and result
// types (WithInputSchema, WithOutputSchema), which infer the schemas when
// applied.
type inferers struct{ in, out mcp.ToolOption }

// inferInput is the input schema opt infers, with in's IntOrString
// fields declared as integer or string.
func inferInput(opt mcp.ToolOption, in reflect.Type) json.RawMessage {
	var t mcp.Tool
	opt(&t)
	return declareIntOrString(in, t.RawInputSchema)
}

// inferOutput is the output schema opt infers, as mcp-go encodes it in a
// tool's listing; nil when it infers none.
func inferOutput(opt mcp.ToolOption) json.RawMessage {
	var t mcp.Tool
	opt(&t)
	if t.OutputSchema.Type == "" && t.OutputSchema.Types == nil {
		return nil
	}
	b, err := json.Marshal(t.OutputSchema)
	if err != nil {
		return nil
	}
	return b
}

// SchemaCacheFile returns schemas.json.gz's content for the typed tools among
// specs, each schema inferred afresh from the tool's types: one entry a
// line, sorted by key.
func SchemaCacheFile(specs []Spec) ([]byte, error) {
	entries := map[string]json.RawMessage{}
	for i := range specs {
		infer := specs[i].inferSchemas
		if infer == nil {
			continue
		}
		s, ok := infer()
		if !ok {
			return nil, errors.New("this build (tailops_noinfer) infers no schemas: run go generate without that tag")
		}
		for key, raw := range map[string]json.RawMessage{s.inKey: s.in, s.outKey: s.out} {
			if raw == nil {
				continue
			}
			if old, dup := entries[key]; dup && !bytes.Equal(old, raw) {
				return nil, fmt.Errorf("two tools named %s with different schemas", specs[i].Name())
			}
			entries[key] = raw
		}
	}
	if len(entries) == 0 {
		return nil, errors.New("no typed tools")
	}
	keys := make([]string, 0, len(entries))
	for k := range entries {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b bytes.Buffer
	b.WriteString("{\n")
	for i, k := range keys {
		kb, err := json.Marshal(k)
		if err != nil {
			return nil, err
		}
		var v bytes.Buffer
		if err := json.Compact(&v, entries[k]); err != nil {
			return nil, fmt.Errorf("schema %s: %w", k, err)
		}
		b.Write(kb)
		b.WriteString(": ")
		b.Write(v.Bytes())
		if i < len(keys)-1 {
			b.WriteByte(',')
		}
		b.WriteByte('\n')
	}
	b.WriteString("}\n")
	return b.Bytes(), nil
}

// SchemaCacheEmbedded returns schemas.json.gz's content as this binary holds it.
func SchemaCacheEmbedded() ([]byte, error) { return SchemaCacheContent(schemasGzip) }

// SchemaCacheGzip returns content gzipped as schemas.json.gz holds it.
func SchemaCacheGzip(content []byte) ([]byte, error) {
	var b bytes.Buffer
	zw, err := gzip.NewWriterLevel(&b, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(content); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}
