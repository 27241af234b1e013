// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"bytes"
	"reflect"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"
)

// KeyNamed is a named type in TestSchemaKeyFollowsTypes' structs.
type KeyNamed struct {
	A string `json:"a"`
}

// KeyNamedOther is KeyNamed under another name.
type KeyNamedOther struct {
	A string `json:"a"`
}

// TestSchemaKeyFollowsTypes: a schema's cache key changes with anything
// in the types that the inference reads (a field's name, tag or type, a
// nested type's field, embedding), so a type changed after schemas.json.gz
// was written is inferred again, never served a stale schema.
func TestSchemaKeyFollowsTypes(t *testing.T) {
	field := func(name, tag string, typ reflect.Type) reflect.StructField {
		return reflect.StructField{Name: name, Tag: reflect.StructTag(tag), Type: typ}
	}
	inner := func(typ reflect.Type) reflect.Type {
		return reflect.StructOf([]reflect.StructField{field("X", `json:"x"`, typ)})
	}
	base := func() []reflect.StructField {
		return []reflect.StructField{
			field("Name", `json:"name" jsonschema_description:"the name"`, reflect.TypeFor[string]()),
			field("Count", `json:"count,omitempty"`, reflect.TypeFor[*int]()),
			field("Items", `json:"items"`, reflect.TypeFor[[]string]()),
			field("Inner", `json:"inner"`, inner(reflect.TypeFor[int]())),
			field("KeyNamed", `json:"n"`, reflect.TypeFor[KeyNamed]()),
		}
	}
	key := func(fs []reflect.StructField) string { return schemaKey("t", "input", reflect.StructOf(fs)) }
	b := key(base())
	if again := key(base()); again != b {
		t.Fatalf("the same type, two keys: %s, %s", b, again)
	}
	if other := schemaKey("u", "input", reflect.StructOf(base())); other == b {
		t.Error("two tools' entries share a key")
	}
	for _, tc := range []struct {
		name   string
		change func(fs []reflect.StructField)
	}{
		{"field renamed", func(fs []reflect.StructField) { fs[0].Name = "Nom" }},
		{"description changed", func(fs []reflect.StructField) { fs[0].Tag = `json:"name" jsonschema_description:"a name"` }},
		{"pointer dropped", func(fs []reflect.StructField) { fs[1].Type = reflect.TypeFor[int]() }},
		{"element type changed", func(fs []reflect.StructField) { fs[2].Type = reflect.TypeFor[[]int]() }},
		{"nested field's type changed", func(fs []reflect.StructField) { fs[3].Type = inner(reflect.TypeFor[string]()) }},
		{"named type swapped for one alike", func(fs []reflect.StructField) { fs[4].Type = reflect.TypeFor[KeyNamedOther]() }},
		{"named type embedded", func(fs []reflect.StructField) { fs[4].Anonymous = true }},
	} {
		fs := base()
		tc.change(fs)
		if key(fs) == b {
			t.Errorf("%s: the key did not change", tc.name)
		}
	}
}

type schemaIn struct {
	Path  string      `json:"path" jsonschema_description:"a path"`
	Level IntOrString `json:"level,omitempty"`
}

type schemaOut struct {
	Lines []string `json:"lines"`
	More  bool     `json:"more,omitempty"`
}

// TestSchemasOfUsesCacheElseInfers: a tool whose entries are in the cache
// gets them as written; one whose entries are not (or whose types
// changed) gets what mcp-go's inference gives, IntOrString fields
// declared as integer or string, as TypedSpec did before the cache.
func TestSchemasOfUsesCacheElseInfers(t *testing.T) {
	var ref mcp.Tool
	mcp.WithInputSchema[schemaIn]()(&ref)
	mcp.WithOutputSchema[schemaOut]()(&ref)
	wantIn := declareIntOrString(reflect.TypeFor[schemaIn](), ref.RawInputSchema)
	if !bytes.Contains(wantIn, []byte(`"level":{"type":["integer","string"]}`)) {
		t.Fatalf("inferred input schema without the integer-or-string level: %s", wantIn)
	}

	inT, outT, infer := reflect.TypeFor[schemaIn](), reflect.TypeFor[schemaOut](), inferersOf[schemaIn, schemaOut]()
	miss := schemasOf(mcp.NewSchemaCache(), "probe", inT, outT, infer)
	if !bytes.Equal(miss.in, wantIn) {
		t.Errorf("input on a miss = %s, want %s", miss.in, wantIn)
	}
	var got mcp.ToolOutputSchema
	if err := got.UnmarshalJSON(miss.out); err != nil {
		t.Fatalf("output on a miss %s: %v", miss.out, err)
	}
	got.PropertyOrder = nil
	if !reflect.DeepEqual(got.Properties, ref.OutputSchema.Properties) || got.Type != "object" {
		t.Errorf("output on a miss = %s, want %+v", miss.out, ref.OutputSchema)
	}

	c := mcp.NewSchemaCache()
	c.WarmRaw(miss.inKey, []byte(`{"type":"object","properties":{"cached":{"type":"string"}}}`))
	c.WarmRaw(miss.outKey, []byte(`{"type":"object","properties":{"out":{"type":"string"}}}`))
	hit := schemasOf(c, "probe", inT, outT, infer)
	if string(hit.in) != `{"type":"object","properties":{"cached":{"type":"string"}}}` ||
		string(hit.out) != `{"type":"object","properties":{"out":{"type":"string"}}}` {
		t.Errorf("a hit did not give the cached schemas: %s, %s", hit.in, hit.out)
	}
	if other := schemasOf(c, "another", inT, outT, infer); !bytes.Equal(other.in, wantIn) {
		t.Errorf("another tool's name took probe's entry: %s", other.in)
	}
}

// TestIsJSONObject: Spec.Validate's check of a raw schema takes exactly
// one valid JSON object.
func TestIsJSONObject(t *testing.T) {
	for in, want := range map[string]bool{
		`{}`: true, " \n{\"type\":\"object\"} ": true, `{"a":{"b":[1,2]}}`: true,
		``: false, `[]`: false, `"x"`: false, `null`: false, `{`: false, `{}{}`: false, `{"a":}`: false, `{} x`: false,
	} {
		if got := isJSONObject([]byte(in)); got != want {
			t.Errorf("isJSONObject(%q) = %v, want %v", in, got, want)
		}
	}
}
