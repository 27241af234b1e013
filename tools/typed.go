// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

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

// NoArgs is the input (or output) of a tool that takes no arguments.
type NoArgs struct{}

// TypedSpec describes a tool whose input and output are Go types; its
// schemas are generated from them.
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
	// ApprovalFor is Spec.ApprovalFor; nil means calls wait for approval
	// only when the tool is critical.
	ApprovalFor func(args any) bool
	// RiskFor is Spec.RiskFor; nil means every call has Risk.
	RiskFor func(args any) Risk
}

// Spec builds the registry entry.
func (t TypedSpec[In, Out]) Spec() Spec {
	tool := mcp.NewTool(t.Name,
		mcp.WithDescription(t.Description),
		mcp.WithInputSchema[In](),
		mcp.WithOutputSchema[Out](),
		mcp.WithTitleAnnotation(t.Title),
		mcp.WithReadOnlyHintAnnotation(t.Hints.ReadOnly),
		mcp.WithDestructiveHintAnnotation(t.Hints.Destructive),
		mcp.WithIdempotentHintAnnotation(t.Hints.Idempotent),
		mcp.WithOpenWorldHintAnnotation(t.Hints.OpenWorld),
	)
	run, text := t.Run, t.Text
	handler := func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var in In
		if raw := req.GetRawArguments(); raw != nil {
			b, err := json.Marshal(raw)
			if err != nil {
				return mcp.NewToolResultError("arguments are not a JSON object"), nil
			}
			if err := json.Unmarshal(b, &in); err != nil {
				return mcp.NewToolResultError(describeDecodeError(err)), nil
			}
		}
		ctx, p := callProgress(ctx, req)
		p.Stage()
		out, err := run(ctx, in)
		if err != nil {
			// Errors can quote configuration (a daemon's message, a
			// container's last output): the same rules as outputs.
			return mcp.NewToolResultError(redact.Text(err.Error())), nil
		}
		var s string
		if text != nil {
			s = text(out)
		} else {
			b, _ := json.MarshalIndent(out, "", "  ")
			s = string(b)
		}
		return mcp.NewToolResultStructured(out, s), nil
	}
	return Spec{Tool: tool, Handler: handler, Scope: t.Scope, Risk: t.Risk, Needs: t.Needs, ApprovalFor: t.ApprovalFor, RiskFor: t.RiskFor}
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
