// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/redact"
	"github.com/tailops/tailops/sandbox"
)

// Hints are a tool's MCP annotations. Every field is always sent, so no
// client has to guess what an unset hint means.
type Hints struct {
	ReadOnly, Destructive, Idempotent, OpenWorld bool
}

// ReadHints are the hints of a tool that only reads local state.
var ReadHints = Hints{ReadOnly: true, Idempotent: true}

// ArgError is an invalid argument: the tool error names the argument and
// says why, so the model (or person) can correct the call.
type ArgError struct {
	Arg    string
	Reason string
}

func (e *ArgError) Error() string { return fmt.Sprintf("invalid argument %q: %s", e.Arg, e.Reason) }

// ArgErrorf returns an *ArgError for the argument arg, its reason
// formatted as fmt.Sprintf does.
func ArgErrorf(arg, format string, a ...any) error {
	return &ArgError{Arg: arg, Reason: fmt.Sprintf(format, a...)}
}

// IntArg applies a default and a range to an optional integer argument:
// def when v is nil, else *v when it lies in [lo, hi], else an *ArgError
// naming the argument.
func IntArg(name string, v *int, def, lo, hi int) (int, error) {
	if v == nil {
		return def, nil
	}
	if *v < lo || *v > hi {
		return 0, ArgErrorf(name, "must be between %d and %d, got %d", lo, hi, *v)
	}
	return *v, nil
}

// IntOrString is an argument a client may give as a JSON integer or as a
// string, such as a level (3 or "err") or an offset (-1 or a boot ID).
// TypedSpec declares a field of this type in the input schema as
// "type": ["integer", "string"], so the input check lets both through;
// the value holds the string as given, or the integer in decimal. ""
// (the zero value) is an absent argument: use it with omitempty, not as
// a pointer.
type IntOrString string

// UnmarshalJSON decodes a JSON string, or an integer (a number with no
// fractional part) as its decimal text.
func (v *IntOrString) UnmarshalJSON(b []byte) error {
	if string(b) == "null" {
		return nil
	}
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*v = IntOrString(s)
		return nil
	}
	if i, err := strconv.ParseInt(string(b), 10, 64); err == nil {
		*v = IntOrString(strconv.FormatInt(i, 10))
		return nil
	}
	// 3.0 and 3e0 are integers to JSON Schema.
	if f, err := strconv.ParseFloat(string(b), 64); err == nil && f == math.Trunc(f) && math.Abs(f) <= 1<<53 {
		*v = IntOrString(strconv.FormatInt(int64(f), 10))
		return nil
	}
	return fmt.Errorf("must be an integer or a string, got %.40s", b)
}

// declareIntOrString returns the input schema raw, derived from in, with
// in's fields of type IntOrString declared as integer or string (the
// schema derivation sees a string).
func declareIntOrString(in reflect.Type, raw json.RawMessage) json.RawMessage {
	if in.Kind() != reflect.Struct {
		return raw
	}
	var names []string
	for i := range in.NumField() {
		f := in.Field(i)
		if f.Type != reflect.TypeFor[IntOrString]() || !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = f.Name
		}
		names = append(names, name)
	}
	if len(names) == 0 {
		return raw
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		panic(fmt.Sprintf("decoding the input schema derived from %s: %v", in, err))
	}
	props, _ := schema["properties"].(map[string]any)
	for _, name := range names {
		if p, ok := props[name].(map[string]any); ok {
			p["type"] = []string{"integer", "string"}
		}
	}
	b, err := json.Marshal(schema)
	if err != nil {
		panic(fmt.Sprintf("encoding the input schema derived from %s: %v", in, err))
	}
	return b
}

// NoArgs is the input (or output) of a tool that takes no arguments.
type NoArgs struct{}

// TypedSpec describes a tool whose input and output are Go types; its
// schemas are generated from them (a field of type IntOrString declared
// as integer or string).
type TypedSpec[In, Out any] struct {
	Name        string
	Title       string
	Description string
	Scope       auth.Scope
	Risk        Risk
	Hints       Hints
	Needs       sandbox.Needs
	// Run does the work. An error becomes a tool error result whose text
	// is the error's message with secrets redacted (redact.Text), so it
	// must be written for a person. ctx carries the call's progress
	// reporter (ProgressFrom), in a stage of its own after the approval
	// gate's.
	Run func(ctx context.Context, in In) (Out, error)
	// Text renders the result for clients that read only text content;
	// nil means indented JSON.
	Text func(Out) string
	// Note, when set, gives a second text content after Text's for a
	// result ("" for none): a remark about the result, such as where a
	// read continues, kept apart so that the first text is exactly the
	// content a tool returns there and not in its structured result.
	Note func(Out) string
	// ApprovalFor is Spec.ApprovalFor; nil means calls wait for approval
	// only when the tool is critical.
	ApprovalFor func(args any) bool
	// RiskFor is Spec.RiskFor; nil means every call has Risk.
	RiskFor func(args any) Risk
	// ApprovalPlan is Spec.ApprovalPlan, given the decoded arguments; nil
	// means none. Run finds the plan with PlanFrom (absent when the call
	// did not wait for approval: Run then plans itself).
	ApprovalPlan func(ctx context.Context, in In) (Plan, error)
	// Task marks a tool whose calls can take minutes (a pull, an upgrade,
	// a deploy): a client may run them as MCP tasks and poll for the
	// result (the tool's execution.taskSupport is "optional").
	Task bool
	// Untrusted marks a tool whose results carry text from outside (log
	// lines, file contents, command output): see UntrustedMeta.
	Untrusted bool
}

// Spec builds the registry entry.
func (t TypedSpec[In, Out]) Spec() Spec {
	inT, outT, infer := reflect.TypeFor[In](), reflect.TypeFor[Out](), inferersOf[In, Out]()
	schemas := schemasOf(schemaCache(), t.Name, inT, outT, infer)
	tool := mcp.NewTool(t.Name,
		mcp.WithDescription(t.Description),
		mcp.WithRawInputSchema(schemas.in),
		mcp.WithTitleAnnotation(t.Title),
		mcp.WithReadOnlyHintAnnotation(t.Hints.ReadOnly),
		mcp.WithDestructiveHintAnnotation(t.Hints.Destructive),
		mcp.WithIdempotentHintAnnotation(t.Hints.Idempotent),
		mcp.WithOpenWorldHintAnnotation(t.Hints.OpenWorld),
	)
	tool.RawOutputSchema = schemas.out
	if t.Task {
		tool.Execution = &mcp.ToolExecution{TaskSupport: mcp.TaskSupportOptional}
	}
	if t.Untrusted {
		markUntrustedTool(&tool)
	}
	run, text, note, untrusted := t.Run, t.Text, t.Note, t.Untrusted
	// The generic part is kept small (it is compiled once per tool):
	// decoding and rendering are decodeArgs and typedResult.
	typed := func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var in In
		if msg := decodeArgs(req.GetRawArguments(), &in); msg != "" {
			return mcp.NewToolResultError(msg), nil
		}
		ctx, p := callProgress(ctx, req)
		p.Stage()
		out, err := run(ctx, in)
		var render, remark func() string
		if text != nil && err == nil {
			render = func() string { return text(out) }
		}
		if note != nil && err == nil {
			remark = func() string { return note(out) }
		}
		return typedResult(out, err, render, remark), nil
	}
	handler := typed
	if untrusted {
		handler = func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
			res, err := typed(ctx, req)
			MarkUntrusted(res)
			return res, err
		}
	}
	sp := Spec{Tool: tool, Handler: handler, Scope: t.Scope, Risk: t.Risk, Needs: t.Needs, ApprovalFor: t.ApprovalFor, RiskFor: t.RiskFor,
		inferSchemas: func() (toolSchemas, bool) {
			if infer == nil {
				return toolSchemas{}, false
			}
			s := schemas
			s.in, s.out = inferInput(infer.in, inT), inferOutput(infer.out)
			return s, true
		}}
	if plan := t.ApprovalPlan; plan != nil {
		sp.ApprovalPlan = func(ctx context.Context, args any) (Plan, error) {
			var in In
			if msg := decodeArgs(args, &in); msg != "" {
				return Plan{}, errors.New(msg)
			}
			p, err := plan(ctx, in)
			if err != nil {
				return Plan{}, errors.New(redact.Text(err.Error()))
			}
			return p, nil
		}
	}
	return sp
}

// decodeArgs decodes a call's arguments (nil: none) into in, a pointer;
// the message of a tool error when they do not fit, else "".
func decodeArgs(args any, in any) string {
	if args == nil {
		return ""
	}
	b, err := json.Marshal(args)
	if err != nil {
		return "arguments are not a JSON object"
	}
	if err := json.Unmarshal(b, in); err != nil {
		return describeDecodeError(err)
	}
	return ""
}

// typedResult is a typed tool's result: err as a tool error, with
// secrets redacted (errors can quote configuration: a daemon's message,
// a container's last output), else out as the structured content with
// the text render gives (nil: indented JSON), then the one note gives
// when it gives any.
func typedResult(out any, err error, render, note func() string) *mcp.CallToolResult {
	if err != nil {
		return mcp.NewToolResultError(redact.Text(err.Error()))
	}
	var s string
	if render != nil {
		s = render()
	} else {
		b, _ := json.MarshalIndent(out, "", "  ")
		s = string(b)
	}
	res := mcp.NewToolResultStructured(out, s)
	if note != nil {
		if n := note(); n != "" {
			res.Content = append(res.Content, mcp.NewTextContent(n))
		}
	}
	return res
}

// describeDecodeError turns a JSON decoding error into a message naming
// the argument.
func describeDecodeError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && te.Field != "" {
		return (&ArgError{Arg: te.Field, Reason: fmt.Sprintf("must be %s, got %s", jsonKind(te.Type.Kind().String()), te.Value)}).Error()
	}
	return "invalid arguments: " + err.Error()
}

func jsonKind(goKind string) string {
	switch goKind {
	case "int", "int64", "int32", "uint", "uint64", "uint32":
		return "an integer"
	case "float64", "float32":
		return "a number"
	case "bool":
		return "a boolean"
	case "string":
		return "a string"
	case "slice", "array":
		return "an array"
	default:
		return "an object"
	}
}
