// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// InputValidator checks a call's arguments against a tool's input schema.
type InputValidator struct {
	schema *jsonschema.Schema
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
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("decoding %s input schema: %w", s.Name(), err)
	}
	url := "mem:///tailops/" + s.Name() + ".json"
	c := jsonschema.NewCompiler()
	if err := c.AddResource(url, doc); err != nil {
		return nil, fmt.Errorf("adding %s input schema: %w", s.Name(), err)
	}
	sch, err := c.Compile(url)
	if err != nil {
		return nil, fmt.Errorf("compiling %s input schema: %w", s.Name(), err)
	}
	return &InputValidator{schema: sch}, nil
}

// Check validates args (nil means no arguments). The error names each
// offending argument and says why.
func (v *InputValidator) Check(args any) error {
	b, err := json.Marshal(args)
	if err != nil {
		return errors.New("arguments are not valid JSON")
	}
	if string(b) == "null" { // absent arguments are an empty object
		b = []byte("{}")
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return errors.New("arguments are not valid JSON")
	}
	if _, ok := inst.(map[string]any); !ok {
		return errors.New("arguments must be a JSON object")
	}
	err = v.schema.Validate(inst)
	var verr *jsonschema.ValidationError
	if err == nil {
		return nil
	}
	if !errors.As(err, &verr) {
		return fmt.Errorf("validating arguments: %w", err)
	}
	var msgs []string
	for _, u := range verr.BasicOutput().Errors {
		if u.Error == nil {
			continue
		}
		where := "arguments"
		if loc := strings.TrimPrefix(u.InstanceLocation, "/"); loc != "" {
			where = fmt.Sprintf("argument %q", strings.ReplaceAll(loc, "/", "."))
		}
		msgs = append(msgs, fmt.Sprintf("invalid %s: %s", where, u.Error))
	}
	if len(msgs) == 0 {
		msgs = append(msgs, "invalid arguments: "+verr.Error())
	}
	return errors.New(strings.Join(msgs, "; "))
}
