// SPDX-License-Identifier: Apache-2.0

package tools_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/tools"
)

// validateSchema covers the keywords the tool schemas use (type,
// properties, required, additionalProperties, items, enum, minimum,
// maximum, minItems, maxItems) plus pattern, maxLength and a $ref into
// $defs.
const validateSchema = `{
  "type": "object",
  "additionalProperties": false,
  "required": ["id"],
  "properties": {
    "id":     {"type": "string", "pattern": "^[a-z]+$", "maxLength": 8},
    "count":  {"type": "integer", "minimum": 1, "maximum": 10},
    "status": {"type": "string", "enum": ["running", "exited"]},
    "all":    {"type": "boolean"},
    "argv":   {"type": "array", "items": {"type": "string"}, "minItems": 1, "maxItems": 3},
    "port":   {"$ref": "#/$defs/port"},
    "when":   {"type": "string", "format": "date-time"},
    "opts":   {"type": "object", "additionalProperties": false, "properties": {"n": {"type": "integer"}}}
  },
  "$defs": {"port": {"type": "integer", "minimum": 1, "maximum": 65535}}
}`

// TestInputValidatorNoArguments: a tool whose schema takes no required
// argument accepts none (absent, null or an empty object, answered
// without validating) and still refuses any it does not know.
func TestInputValidatorNoArguments(t *testing.T) {
	spec := tools.Spec{Tool: mcp.Tool{Name: "v", RawInputSchema: []byte(`{"type": "object", "additionalProperties": false, "properties": {"verbose": {"type": "boolean"}}}`)}}
	v, err := tools.NewInputValidator(&spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range []any{nil, json.RawMessage(nil), json.RawMessage("null"), json.RawMessage(" {} "), json.RawMessage("{\n}"), map[string]any{}, json.RawMessage(`{"verbose": true}`)} {
		if err := v.Check(args); err != nil {
			t.Errorf("Check(%s) = %v, want valid", args, err)
		}
	}
	for _, args := range []any{json.RawMessage(`{"x": 1}`), json.RawMessage(`{"verbose": "yes"}`), json.RawMessage(`[]`), json.RawMessage(`{}}`), json.RawMessage(`{`), json.RawMessage(" ")} {
		if err := v.Check(args); err == nil {
			t.Errorf("Check(%s) = nil, want an error", args)
		}
	}
}

// TestInputValidator: arguments are checked against the input schema;
// a refusal names the offending argument and the keyword, and never
// repeats the value (it may be a secret: the reason reaches the audit
// log). format is an annotation, not asserted, as with the draft
// 2020-12 default.
func TestInputValidator(t *testing.T) {
	const secret = "hunter2-very-secret"
	spec := tools.Spec{Tool: mcp.Tool{Name: "v", RawInputSchema: []byte(validateSchema)}}
	v, err := tools.NewInputValidator(&spec)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		args any
		want []string // substrings of the error; nil means valid
	}{
		{"minimal", map[string]any{"id": "web"}, nil},
		{"every argument", map[string]any{"id": "web", "count": 3, "status": "exited", "all": true,
			"argv": []string{"a", "b"}, "port": 8080, "when": "2026-01-01T00:00:00Z", "opts": map[string]any{"n": 2}}, nil},
		{"integral float is an integer", map[string]any{"id": "web", "count": 3.0}, nil},
		{"format is not asserted", map[string]any{"id": "web", "when": "yesterday"}, nil},
		{"nil is an empty object", nil, []string{"invalid arguments: required", `"id"`}},
		{"not an object", []any{1}, []string{"arguments must be a JSON object"}},
		{"missing required", map[string]any{"count": 1}, []string{"invalid arguments: required", `"id"`}},
		{"unknown argument", map[string]any{"id": "web", "password": secret}, []string{"invalid arguments: 'password' not allowed (the tool takes arguments all, argv, count, id, opts, port, status, when)"}},
		{"wrong type", map[string]any{"id": "web", "all": secret}, []string{`invalid argument "all": got string, want boolean`}},
		{"not in enum", map[string]any{"id": "web", "status": secret}, []string{`invalid argument "status": enum: value does not equal any of`}},
		{"pattern", map[string]any{"id": "Web"}, []string{`invalid argument "id": pattern: value does not match`}},
		{"too long", map[string]any{"id": "abcdefghij"}, []string{`invalid argument "id": maxLength`}},
		{"below minimum", map[string]any{"id": "web", "count": 0}, []string{`invalid argument "count": minimum`}},
		{"above maximum", map[string]any{"id": "web", "count": 11}, []string{`invalid argument "count": maximum`}},
		{"fraction for integer", map[string]any{"id": "web", "count": 1.5}, []string{`invalid argument "count": got number, want integer`}},
		{"empty array", map[string]any{"id": "web", "argv": []string{}}, []string{`invalid argument "argv": minItems`}},
		{"array too long", map[string]any{"id": "web", "argv": []string{"a", "b", "c", "d"}}, []string{`invalid argument "argv": maxItems`}},
		{"array item type", map[string]any{"id": "web", "argv": []any{"a", 1}}, []string{`invalid argument "argv": got integer, want string`}},
		{"string for array", map[string]any{"id": "web", "argv": secret}, []string{`invalid argument "argv": got string, want array`}},
		{"$ref followed", map[string]any{"id": "web", "port": 70000}, []string{`invalid argument "port": maximum`}},
		{"$ref type", map[string]any{"id": "web", "port": secret}, []string{`invalid argument "port": got string, want integer`}},
		{"nested additional property", map[string]any{"id": "web", "opts": map[string]any{"x": secret}}, []string{`invalid argument "opts"`, `"x"`}},
		{"two bad arguments", map[string]any{"id": "Web", "count": 0}, []string{`invalid argument "count"`, `; invalid argument "id"`}},
		// As a call's arguments arrive: the request's raw JSON.
		{"raw minimal", json.RawMessage(` {"id": "web", "count": 3.0} `), nil},
		{"raw null is an empty object", json.RawMessage(" null "), []string{"invalid arguments: required", `"id"`}},
		{"raw empty object", json.RawMessage(" { \n } "), []string{"invalid arguments: required", `"id"`}},
		{"raw not an object", json.RawMessage(`["web"]`), []string{"arguments must be a JSON object"}},
		{"raw not JSON", json.RawMessage(`{"id": "web"`), []string{"arguments are not valid JSON"}},
		{"raw empty", json.RawMessage(" "), []string{"arguments are not valid JSON"}},
		{"raw null after a non-JSON space", json.RawMessage("\u00a0null"), []string{"arguments are not valid JSON"}},
		{"raw wrong type", json.RawMessage(`{"id": "web", "all": "` + secret + `"}`), []string{`invalid argument "all": got string, want boolean`}},
		{"secret in a value that mimics the message", map[string]any{"id": "web", "status": secret + " does not equal any of: x"},
			[]string{`invalid argument "status": enum: value does not equal any of: [running exited]`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := v.Check(tc.args)
			if tc.want == nil {
				if err != nil {
					t.Fatalf("Check(%v) = %v, want valid", tc.args, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Check(%v) = nil, want an error with %q", tc.args, tc.want)
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("Check(%v) = %q, want it to contain %q", tc.args, err, w)
				}
			}
			if strings.Contains(err.Error(), secret) {
				t.Errorf("Check(%v) = %q repeats the value", tc.args, err)
			}
		})
	}
}
