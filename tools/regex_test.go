// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"regexp/syntax"
	"strings"
	"testing"
)

// TestCompileRegex: a caller's expression past the length or the
// program-size bound is refused naming the argument; otherwise the bytes
// one match looks at keep instructions × bytes within the budget (an
// expression of a hundred [^b]{1000}b alternatives took 110 s on one
// 64 KiB line before the bound, in review).
func TestCompileRegex(t *testing.T) {
	for _, tc := range []struct{ expr, want string }{
		{strings.Repeat("[^b]{1000}b|", 99) + "[^b]{1000}b", `invalid argument "re": is 1199 bytes; at most 1024`},
		{"[^b]{1000}b|[^c]{1000}c", `invalid argument "re": compiles to`},
		{"(", `invalid argument "re": invalid RE2 expression`},
	} {
		if _, _, err := CompileRegex("re", tc.expr); err == nil || !strings.HasPrefix(err.Error(), tc.want) {
			t.Errorf("%.30q: %v, want %q", tc.expr, err, tc.want)
		}
	}
	for _, expr := range []string{"needle", "error|warn|fail", "[a-z]{100}x", "(a|b|c|d){200}"} {
		re, n, err := CompileRegex("re", expr)
		if err != nil || re == nil {
			t.Fatalf("%q: %v", expr, err)
		}
		parsed, _ := syntax.Parse(expr, syntax.Perl)
		prog, _ := syntax.Compile(parsed.Simplify())
		if n*len(prog.Inst) > regexBudget || n < regexBudget/MaxRegexInst {
			t.Errorf("%q (%d instructions): matches look at %d bytes", expr, len(prog.Inst), n)
		}
	}
}
