// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// Bounds of a package name or version given as an argument.
const (
	maxNameLen    = 128
	maxVersionLen = 256
)

// nameRE is Debian policy's rule for a package name (§5.6.1).
var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9+.-]+$`)

// ValidName reports why name is not a Debian package name, or nil.
func ValidName(name string) error {
	if len(name) > maxNameLen {
		return fmt.Errorf("package name is %d bytes long, more than %d", len(name), maxNameLen)
	}
	if !nameRE.MatchString(name) {
		return fmt.Errorf("package name %q: must be at least two characters of a-z, 0-9, '+', '-' and '.', starting with a letter or digit", name)
	}
	return nil
}

// ValidVersion reports why v is not a Debian version
// ([epoch:]upstream[-revision], Debian policy §5.6.12), or nil.
func ValidVersion(v string) error {
	if len(v) > maxVersionLen {
		return fmt.Errorf("version is %d bytes long, more than %d", len(v), maxVersionLen)
	}
	if v == "" {
		return fmt.Errorf("version is empty")
	}
	rest := v
	if e, r, ok := strings.Cut(v, ":"); ok {
		if _, err := strconv.ParseUint(e, 10, 31); err != nil {
			return fmt.Errorf("version %q: the epoch before ':' must be a number below 2^31", v)
		}
		rest = r
	}
	up, rev := rest, ""
	if i := strings.LastIndexByte(rest, '-'); i >= 0 {
		up, rev = rest[:i], rest[i+1:]
		if rev == "" || strings.Trim(rev, revisionChars) != "" {
			return fmt.Errorf("version %q: the revision after the last '-' may hold only letters, digits, '+', '.' and '~'", v)
		}
	}
	if up == "" || up[0] < '0' || up[0] > '9' {
		return fmt.Errorf("version %q: the upstream version must start with a digit", v)
	}
	if strings.Trim(up, revisionChars+"-:") != "" {
		return fmt.Errorf("version %q: may hold only letters, digits, '.', '+', '~', '-' and ':'", v)
	}
	return nil
}

// revisionChars are the characters of a Debian revision.
const revisionChars = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+.~"

// splitVersion splits v as dpkg's parseversion does: the epoch is what
// precedes the first ':', the revision what follows the last '-'.
func splitVersion(v string) (epoch, upstream, revision string) {
	if e, r, ok := strings.Cut(v, ":"); ok {
		epoch, v = e, r
	}
	if i := strings.LastIndexByte(v, '-'); i >= 0 {
		return epoch, v[:i], v[i+1:]
	}
	return epoch, v, ""
}

// Compare compares two Debian versions as dpkg --compare-versions does:
// the epochs as numbers, then the upstream versions and the revisions
// with dpkg's verrevcmp, where '~' sorts before anything, even the end.
// It returns -1, 0 or +1.
func Compare(a, b string) int {
	ea, ua, ra := splitVersion(a)
	eb, ub, rb := splitVersion(b)
	if c := compareNumbers(ea, eb); c != 0 {
		return c
	}
	if c := verrevcmp(ua, ub); c != 0 {
		return c
	}
	return verrevcmp(ra, rb)
}

// compareNumbers compares two epochs as non-negative numbers of any
// length (dpkg rejects non-numeric epochs; here their digits compare as
// verrevcmp would).
func compareNumbers(a, b string) int {
	if strings.Trim(a, "0123456789") != "" || strings.Trim(b, "0123456789") != "" {
		return verrevcmp(a, b)
	}
	a, b = strings.TrimLeft(a, "0"), strings.TrimLeft(b, "0")
	if len(a) != len(b) {
		return sign(len(a) - len(b))
	}
	return strings.Compare(a, b)
}

// order is dpkg's weight of a character outside a run of digits: '~'
// first, then the end of the string, then letters, then anything else.
func order(s string, i int) int {
	if i >= len(s) {
		return 0
	}
	switch c := s[i]; {
	case isDigit(c):
		return 0
	case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z':
		return int(c)
	case c == '~':
		return -1
	default:
		return int(c) + 256
	}
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// verrevcmp is dpkg's comparison of upstream versions or revisions
// (lib/dpkg/version.c): alternating non-digit runs, compared character
// by character with order, and digit runs, compared as numbers.
func verrevcmp(a, b string) int {
	i, j := 0, 0
	for i < len(a) || j < len(b) {
		for i < len(a) && !isDigit(a[i]) || j < len(b) && !isDigit(b[j]) {
			ac, bc := order(a, i), order(b, j)
			if ac != bc {
				return sign(ac - bc)
			}
			i++
			j++
		}
		for i < len(a) && a[i] == '0' {
			i++
		}
		for j < len(b) && b[j] == '0' {
			j++
		}
		firstDiff := 0
		for i < len(a) && isDigit(a[i]) && j < len(b) && isDigit(b[j]) {
			if firstDiff == 0 {
				firstDiff = int(a[i]) - int(b[j])
			}
			i++
			j++
		}
		if i < len(a) && isDigit(a[i]) {
			return 1
		}
		if j < len(b) && isDigit(b[j]) {
			return -1
		}
		if firstDiff != 0 {
			return sign(firstDiff)
		}
	}
	return 0
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}
