// SPDX-License-Identifier: Apache-2.0

package tools

import "context"

// Completion offers the names of one kind of thing (containers, stacks,
// units) to complete prompt arguments with, served by the toolset that
// lists them anyway, from the same code as its tools.
type Completion struct {
	// Kind names what is completed, as PromptSpec.Complete refers to it:
	// one lower-case word ("container").
	Kind string
	// Tool is the tool that lists these names: a caller gets completions
	// only when it may call it (and it is enabled), so completion reveals
	// nothing the caller could not list, and the sandbox already grants
	// what Values needs.
	Tool string
	// Values returns every name; the server filters them by what the
	// client typed. It must return once ctx is done.
	Values func(ctx context.Context) ([]string, error)
}

// CompletionProvider is a toolset that completes prompt arguments.
type CompletionProvider interface {
	Completions() []Completion
}

// Completions returns the completions of sets, in order.
func Completions(sets []Toolset) []Completion { return provided(sets, CompletionProvider.Completions) }

// NamesOf returns name of each item, for a Completion's Values.
func NamesOf[T any](items []T, name func(T) string) []string {
	out := make([]string, 0, len(items))
	for _, it := range items {
		out = append(out, name(it))
	}
	return out
}
