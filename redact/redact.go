// SPDX-License-Identifier: Apache-2.0

// Package redact is the one rule set for what is secret. The audit log,
// every tool output that shows configuration (container environment,
// labels, commands; compose files and unit files), the approval requests
// shown to approvers, and tool errors all redact through it, so what one
// of them hides, none of them shows.
//
// Two kinds of rule decide, and every function applies both:
//
//   - Names: the value of a setting whose name names a secret is replaced
//     whole, whatever it looks like (see SecretName).
//   - Shapes: substrings that look like tokens or keys are replaced
//     wherever they are, under any name, inside longer text too (see
//     Text).
//
// Which function to use follows the data's shape: Value for anything
// (records, arguments), Text for free text (errors, a shell command line,
// a health check's output), Env for a KEY=VALUE list (container
// environment, compose environment, a unit's Environment=), Map for
// named settings (labels, log options), Args for a command's argument
// vector, CommandLine for one joined into a line. A name and its value
// get the same answer from each (Named).
//
// The rules err towards redacting, and they are heuristics: a secret
// with no recognisable shape under a harmless name is not caught.
package redact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Redacted replaces every secret the rules remove.
const Redacted = "[REDACTED]"

// Value returns a deep copy of v with secrets replaced by Redacted; the
// audit log stores every record through it.
//
// Maps (map[string]any, map[string]string, and anything that encodes to
// a JSON object): the value of a key SecretName reports is replaced
// whole, unless it is null or a bool ("use_auth": true). A key that
// itself holds a secret shape is replaced, and its value with it. Other
// values are redacted as below.
//
// Strings, wherever they are (values, elements, keys): as Text.
//
// Lists ([]any, []string): each element as above, and a string after a
// flag naming a secret ("--password", "hunter2") is replaced whole, as
// Args does, since a list may be an argument vector.
//
// json.RawMessage is decoded, redacted and re-encoded; []byte holding UTF-8
// is redacted as a string. Other Go values are encoded to JSON and the
// decoded result redacted (so a struct comes back as map[string]any); a
// value JSON cannot encode becomes "[unencodable <type>]".
//
// Not caught: secrets with no recognisable shape under harmless keys (a
// hex key in {"args": "9f86d0…"}, "mysql -psecret"), and binary []byte,
// which JSON stores as base64.
func Value(v any) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		return Text(x)
	case bool, float64, float32, int, int8, int16, int32, int64,
		uint, uint8, uint16, uint32, uint64, json.Number:
		return x
	case map[string]any:
		if x == nil {
			return x
		}
		out := make(map[string]any, len(x))
		for k, e := range x {
			rk := Text(k)
			if rk != k || (SecretName(k) && !harmless(e)) {
				out[rk] = Redacted
			} else {
				out[rk] = Value(e)
			}
		}
		return out
	case []any:
		if x == nil {
			return x
		}
		// A list may be an argument vector (exec_in_container's argv): the
		// string after a secret-named flag is secret, as in Args.
		out := make([]any, len(x))
		secretNext := false
		for i, e := range x {
			a, isString := e.(string)
			if isString && secretNext && !isFlag(a) {
				out[i] = Redacted
			} else {
				out[i] = Value(e)
			}
			secretNext = isString && secretFlag(a)
		}
		return out
	case map[string]string:
		return Map(x)
	case []string:
		return Args(x)
	case json.RawMessage:
		if x == nil {
			return x
		}
		d, ok := decodeJSON(x)
		if !ok {
			return Text(string(x))
		}
		b, err := json.Marshal(Value(d))
		if err != nil {
			return fmt.Sprintf("[unencodable %T]", v)
		}
		return json.RawMessage(b)
	case []byte:
		if x != nil && utf8.Valid(x) {
			return Text(string(x))
		}
		return bytes.Clone(x)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprintf("[unencodable %T]", v)
	}
	d, ok := decodeJSON(b)
	if !ok {
		return fmt.Sprintf("[unencodable %T]", v)
	}
	return Value(d)
}

// Named returns a setting's name and value as they may be shown: the
// value is Redacted when the name names a secret (SecretName), and both
// are Redacted when the name itself holds a secret shape; otherwise the
// value is redacted as Text. Value, Env, Map, Args and CommandLine give
// a name and a string value this same answer (TestNamedIsOneAnswer);
// Value also keeps null and booleans, which hold no secret.
func Named(name, value string) (string, string) {
	rn := Text(name)
	if rn != name || SecretName(name) {
		return rn, Redacted
	}
	return name, Text(value)
}

// Env returns a copy of a KEY=VALUE list (a container's environment, a
// compose service's environment, a unit's Environment=) with each value
// redacted as Named: the whole value, spaces and all, of a secret name.
// An entry without "=" is redacted as Text.
func Env(kvs []string) []string {
	if kvs == nil {
		return nil
	}
	out := make([]string, len(kvs))
	for i, kv := range kvs {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			out[i] = Text(kv)
			continue
		}
		k, v = Named(k, v)
		out[i] = k + "=" + v
	}
	return out
}

// Map returns a copy of named settings (labels, driver options) with
// each value redacted as Named.
func Map(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		rk, rv := Named(k, v)
		out[rk] = rv
	}
	return out
}

// Args returns a copy of a command's argument vector (a container's
// entrypoint and command, a health check, a unit's ExecStart) redacted
// element by element:
//   - NAME=VALUE, -NAME=VALUE and --NAME=VALUE: as Named, so the whole
//     rest of the element is the value;
//   - the element after a flag whose name names a secret (--password
//     VALUE, --api-key VALUE), unless it is a flag itself: Redacted, even
//     after a flag that takes no value (--use-auth serve hides "serve");
//   - everything else, shell command lines included: as Text.
func Args(argv []string) []string {
	out, _ := args(argv)
	return out
}

// args is Args, and reports which elements a name rule hid whole.
func args(argv []string) (out []string, hidden []bool) {
	if argv == nil {
		return nil, nil
	}
	out, hidden = make([]string, len(argv)), make([]bool, len(argv))
	secretNext := false
	for i, a := range argv {
		if secretNext && !isFlag(a) {
			out[i], hidden[i] = Redacted, true
		} else {
			out[i], hidden[i] = argument(a)
		}
		secretNext = secretFlag(a)
	}
	return out, hidden
}

// isFlag reports whether a is a command-line flag: dashes, then a name.
func isFlag(a string) bool {
	return strings.HasPrefix(a, "-") && len(strings.TrimLeft(a, "-")) > 0
}

// secretFlag reports whether a is a flag naming a secret whose value is
// the next argument (--password, not --password=x).
func secretFlag(a string) bool {
	return isFlag(a) && !strings.Contains(a, "=") && SecretName(strings.TrimLeft(a, "-"))
}

// CommandLine returns a command line as Docker's container list shows a
// container's command (its arguments joined with spaces, those with a
// space in them wrapped in single quotes, nothing escaped), redacted as
// Args redacts its arguments, then as Text. Where a name rule hides a
// value, the line may no longer say where the value ended (a quote inside
// it, or no quotes at all from another engine): everything after it is
// replaced by one Redacted too ("mysqld --password=[REDACTED]
// [REDACTED]"); the argument vector itself, redacted with Args, shows the
// rest.
func CommandLine(s string) string {
	fields, quoted := splitCommandLine(s)
	out, hidden := args(fields)
	for i := range out {
		if quoted[i] {
			out[i] = "'" + out[i] + "'"
		}
	}
	for i, h := range hidden {
		if h && i+1 < len(out) {
			out = append(out[:i+1], Redacted)
			break
		}
	}
	return Text(strings.Join(out, " "))
}

// splitCommandLine splits a line CommandLine redacts into its arguments,
// and reports which were quoted.
func splitCommandLine(s string) (fields []string, quoted []bool) {
	for {
		if len(s) >= 2 && s[0] == '\'' {
			if end := strings.Index(s[1:], "' "); end >= 0 {
				fields, quoted = append(fields, s[1:1+end]), append(quoted, true)
				s = s[end+3:]
				continue
			}
			if s[len(s)-1] == '\'' {
				return append(fields, s[1:len(s)-1]), append(quoted, true)
			}
		}
		f, rest, more := strings.Cut(s, " ")
		fields, quoted = append(fields, f), append(quoted, false)
		if !more {
			return fields, quoted
		}
		s = rest
	}
}

// argument redacts one element of an argument vector, and reports
// whether a name rule hid its value whole.
func argument(a string) (string, bool) {
	dashes := a[:len(a)-len(strings.TrimLeft(a, "-"))]
	if len(dashes) <= 2 {
		if name, v, ok := strings.Cut(a[len(dashes):], "="); ok && isName(name) {
			rn, rv := Named(name, v)
			return dashes + rn + "=" + rv, rv == Redacted && v != Redacted
		}
	}
	return Text(a), false
}

// isName reports whether s can be the name in NAME=VALUE: a letter or
// underscore, then letters, digits and _ . -
func isName(s string) bool {
	for i, r := range s {
		switch {
		case r == '_' || 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z':
		case i > 0 && (r == '.' || r == '-' || '0' <= r && r <= '9'):
		default:
			return false
		}
	}
	return s != ""
}

// decodeJSON decodes one JSON value, keeping numbers exact.
func decodeJSON(b []byte) (any, bool) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, false
	}
	if _, err := dec.Token(); err == nil {
		return nil, false // trailing data
	}
	return v, true
}

// harmless reports whether the value of a secret name may be kept: null
// and booleans ("use_auth": true) cannot hold a secret.
func harmless(v any) bool {
	switch v.(type) {
	case nil, bool:
		return true
	}
	return false
}
