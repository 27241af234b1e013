// SPDX-License-Identifier: Apache-2.0

package redact

import (
	"encoding/json"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// syntax are what turns text into more commands: a sequence, a pipe, a
// background job, a substitution, a redirection, another line. Redacting
// a secret inside a string must not swallow any of them, or what a person
// is shown is not what runs.
var syntax = []string{";", "|", "&", "`", "$(", "${", "<", ">", "\n", "\r"}

// HidesSyntax reports where, if anywhere, redacting v (Value) hides
// command syntax along with a secret inside a string: a string whose
// redacted form holds fewer of one of the syntax sequences than the
// string does. where names the string (a JSON-pointer-like path, "" for
// v itself). A person asked to approve or confirm a call sees its
// redacted arguments, and a rule that hides to the end of a line or a
// quoted string would hide a payload after the secret from them
// ("sh -c 'echo Authorization: Bearer x; rm -rf /data'"). A value
// redacted whole for its key's name (a password argument) is shown as
// such and not looked into.
func HidesSyntax(v any) (where string, hides bool) {
	return hidesSyntax(v, "", syntax)
}

// HidesSyntaxInLines is HidesSyntax for text of many lines where a rule
// may hide whole lines for a reason (a private key's PEM block in a
// configuration): new lines hidden do not count, the rest of the syntax
// on a line does.
func HidesSyntaxInLines(v any) (where string, hides bool) {
	return hidesSyntax(v, "", syntax[:len(syntax)-2])
}

func hidesSyntax(v any, path string, syntax []string) (string, bool) {
	switch x := v.(type) {
	case nil, bool, float64, float32, int, int8, int16, int32, int64,
		uint, uint8, uint16, uint32, uint64, json.Number:
		return "", false
	case string:
		return path, swallows(x, Text(x), syntax)
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(x)) {
			if Text(k) != k || SecretName(k) && !harmless(x[k]) {
				continue // shown as Redacted whole (Value)
			}
			if where, ok := hidesSyntax(x[k], path+"/"+k, syntax); ok {
				return where, true
			}
		}
		return "", false
	case []any:
		// Value hides a string after a secret-named flag whole
		// ("--password", "x; rm -rf /data"): all of its syntax with it.
		secretNext := false
		for i, e := range x {
			where := path + "/" + strconv.Itoa(i)
			if a, ok := e.(string); ok && secretNext && !isFlag(a) {
				if swallows(a, Redacted, syntax) {
					return where, true
				}
			} else if where, ok := hidesSyntax(e, where, syntax); ok {
				return where, true
			}
			a, isString := e.(string)
			secretNext = isString && secretFlag(a)
		}
		return "", false
	}
	b, err := json.Marshal(v)
	if err != nil {
		return "", false // Value shows it as a placeholder
	}
	d, ok := decodeJSON(b)
	if !ok {
		return "", false
	}
	return hidesSyntax(d, path, syntax)
}

// swallows reports whether red, the redaction of s, holds fewer of one
// of the syntax sequences than s does.
func swallows(s, red string, syntax []string) bool {
	if s == red {
		return false
	}
	for _, c := range syntax {
		if strings.Count(red, c) < strings.Count(s, c) {
			return true
		}
	}
	return false
}
