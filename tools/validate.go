// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/google/jsonschema-go/jsonschema"
)

// InputValidator checks a call's arguments against a tool's input schema.
type InputValidator struct {
	schema *jsonschema.Resolved
	// props holds each top-level property's schema, resolved on its own
	// (with the root's definitions), to name the argument that fails.
	props map[string]*jsonschema.Resolved
	// known lists the tool's argument names, sorted, when the schema
	// allows no others (additionalProperties false).
	known []string
	// emptyOK is whether the schema accepts no arguments at all, which
	// Check then answers without decoding or validating (most calls of a
	// tool without arguments, such as health_check).
	emptyOK bool
}

// NewInputValidator compiles the tool's input schema.
func NewInputValidator(s *Spec) (*InputValidator, error) {
	raw := s.Tool.RawInputSchema
	if raw == nil {
		b, err := json.Marshal(s.Tool.InputSchema)
		if err != nil {
			return nil, fmt.Errorf("encoding %s input schema: %w", s.Name(), err)
		}
		raw = b
	}
	var root jsonschema.Schema
	if err := json.Unmarshal(raw, &root); err != nil {
		return nil, fmt.Errorf("decoding %s input schema: %w", s.Name(), err)
	}
	rs, err := root.Resolve(nil)
	if err != nil {
		return nil, fmt.Errorf("compiling %s input schema: %w", s.Name(), err)
	}
	v := &InputValidator{schema: rs, props: map[string]*jsonschema.Resolved{}}
	if ap := root.AdditionalProperties; ap != nil && ap.Not != nil {
		// jsonschema-go reads `additionalProperties: false` as {not: {}}.
		for name := range root.Properties {
			v.known = append(v.known, name)
		}
		slices.Sort(v.known)
		if v.known == nil {
			v.known = []string{}
		}
	}
	for name, p := range root.Properties {
		if p == nil {
			continue
		}
		sub := p.CloneSchemas()
		sub.Defs, sub.Definitions = root.Defs, root.Definitions
		if r, err := sub.Resolve(nil); err == nil {
			v.props[name] = r
		}
	}
	v.emptyOK = rs.Validate(map[string]any{}) == nil
	return v, nil
}

// noArguments reports whether b, a call's raw arguments, is absent, null
// or an empty object.
func noArguments(b []byte) bool {
	if b == nil {
		return true
	}
	b = bytes.Trim(b, " \t\r\n")
	switch {
	case string(b) == "null":
		return true
	case len(b) < 2 || b[0] != '{' || b[len(b)-1] != '}':
		return false
	}
	return len(bytes.Trim(b[1:len(b)-1], " \t\r\n")) == 0
}

// Check validates args (nil means no arguments). The error names each
// offending argument and says why, without repeating its value.
func (v *InputValidator) Check(args any) error {
	// A call's arguments arrive as the request's raw JSON, which Unmarshal
	// below checks: only other values need encoding first.
	b, ok := args.(json.RawMessage)
	if !ok {
		var err error
		if b, err = json.Marshal(args); err != nil {
			return errors.New("arguments are not valid JSON")
		}
	}
	if noArguments(b) { // absent arguments are an empty object
		if v.emptyOK {
			return nil
		}
		b = []byte("{}")
	}
	var inst any
	if err := json.Unmarshal(b, &inst); err != nil {
		return errors.New("arguments are not valid JSON")
	}
	obj, ok := inst.(map[string]any)
	if !ok {
		return errors.New("arguments must be a JSON object")
	}
	err := v.schema.Validate(obj)
	if err == nil {
		return nil
	}
	var msgs []string
	names := make([]string, 0, len(obj))
	for name := range obj {
		names = append(names, name)
	}
	slices.Sort(names)
	for _, name := range names {
		p := v.props[name]
		if p == nil {
			if v.known != nil && !slices.Contains(v.known, name) {
				msgs = append(msgs, unknownArgument(name, v.known))
			}
			continue
		}
		if perr := p.Validate(obj[name]); perr != nil {
			msgs = append(msgs, fmt.Sprintf("invalid argument %q: %s", name, reason(perr)))
		}
	}
	if len(msgs) == 0 {
		msgs = append(msgs, "invalid arguments: "+reason(err))
	}
	return errors.New(strings.Join(msgs, "; "))
}

// unknownArgument says that argument name is not one the tool takes,
// and which it does take (the name is cut to 64 bytes).
func unknownArgument(name string, known []string) string {
	if len(name) > 64 {
		name = name[:64] + "..."
	}
	takes := "no arguments"
	if len(known) > 0 {
		takes = "arguments " + strings.Join(known, ", ")
	}
	quoted := strconv.Quote(name) // control characters escaped
	return fmt.Sprintf("invalid arguments: '%s' not allowed (the tool takes %s)", quoted[1:len(quoted)-1], takes)
}

// valuePhrases is, per keyword, the fixed text jsonschema-go puts right
// after the offending value in its message.
var valuePhrases = map[string][]string{
	"type":             {" has type ", " of type "},
	"enum":             {" does not equal any of: "},
	"const":            {" does not equal "},
	"multipleOf":       {" is not a multiple of "},
	"minimum":          {" is less than "},
	"maximum":          {" is greater than "},
	"exclusiveMinimum": {" is less than or equal to "},
	"exclusiveMaximum": {" is greater than or equal to "},
	"minLength":        {" contains "},
	"maxLength":        {" contains "},
	"pattern":          {" does not match regular expression "},
	"contains":         {" does not have an item matching "},
}

// reason is the innermost part of a jsonschema-go validation error (the
// "validating <schema path>: " prefixes dropped), with the offending
// value replaced by the word "value": an argument can be a secret, and
// the reason goes to the caller and to the audit log.
func reason(err error) string {
	msg := err.Error()
	for {
		rest, ok := strings.CutPrefix(msg, "validating ")
		if !ok {
			break
		}
		i := strings.Index(rest, ": ")
		if i < 0 {
			break
		}
		msg = rest[i+2:]
	}
	kw, rest, ok := strings.Cut(msg, ": ")
	if !ok {
		return msg
	}
	if kw == "type" {
		if t := typeReason(rest); t != "" {
			return t
		}
	}
	for _, ph := range valuePhrases[kw] {
		// The value comes first and may hold anything; what follows it
		// comes from the schema, so the last match is the real one.
		if i := strings.LastIndex(rest, ph); i >= 0 {
			return kw + ": value" + rest[i:]
		}
	}
	return msg
}

// typeReason turns jsonschema-go's `<value> has type "number", want
// "integer"` (or `want one of "integer, string"`) into "got number, want
// integer" ("want integer or string"), or "" when rest is not of that form.
func typeReason(rest string) string {
	i := strings.LastIndex(rest, " has type ")
	if i < 0 {
		return ""
	}
	got, want, ok := strings.Cut(rest[i+len(" has type "):], ", want ")
	if !ok {
		return ""
	}
	want = strings.TrimPrefix(want, "one of ")
	want = strings.ReplaceAll(strings.Trim(want, `"`), ", ", " or ")
	return "got " + strings.Trim(got, `"`) + ", want " + want
}
