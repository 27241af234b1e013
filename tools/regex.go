// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"regexp"
	"regexp/syntax"
)

// Bounds of a regular expression a caller gives (CompileRegex).
const (
	// MaxRegexBytes is the longest expression.
	MaxRegexBytes = 1 << 10
	// MaxRegexInst bounds the instructions of its compiled program.
	MaxRegexInst = 2000
	// regexBudget is instructions × bytes one match may cost.
	regexBudget = 1 << 26
)

// CompileRegex compiles a caller's RE2 expression, the argument arg, and
// returns it with how many bytes of an input one match should look at.
// RE2 matches in linear time, but in time proportional to the program's
// size too: an expression longer than MaxRegexBytes or compiling to more
// than MaxRegexInst instructions is an ArgError naming arg, and the bytes
// returned shrink as the program grows (1 MiB and more for an ordinary
// expression), so that no one match outlasts a call's time limit by much.
func CompileRegex(arg, expr string) (*regexp.Regexp, int, error) {
	if len(expr) > MaxRegexBytes {
		return nil, 0, ArgErrorf(arg, "is %d bytes; at most %d", len(expr), MaxRegexBytes)
	}
	parsed, err := syntax.Parse(expr, syntax.Perl)
	if err != nil {
		return nil, 0, ArgErrorf(arg, "invalid RE2 expression: %v", err)
	}
	prog, err := syntax.Compile(parsed.Simplify())
	if err != nil {
		return nil, 0, ArgErrorf(arg, "invalid RE2 expression: %v", err)
	}
	if len(prog.Inst) > MaxRegexInst {
		return nil, 0, ArgErrorf(arg, "compiles to %d instructions; at most %d: simplify it (fewer or smaller repetitions, fewer alternatives)",
			len(prog.Inst), MaxRegexInst)
	}
	re, err := regexp.Compile(expr)
	if err != nil {
		return nil, 0, ArgErrorf(arg, "invalid RE2 expression: %v", err)
	}
	return re, regexBudget / max(len(prog.Inst), 1), nil
}
