// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"os/exec"
	"strings"
	"testing"
)

// versionCases are dpkg's own comparison cases (lib/dpkg/t/t-version.c,
// Debian policy §5.6.12) and the shapes Debian's archive uses.
var versionCases = []struct {
	a, b string
	want int
}{
	{"1.0", "1.0", 0},
	{"0:1.0", "1.0", 0},
	{"00:1.0", "0:1.0", 0},
	{"1.0-0", "1.0", 0},
	{"1.01", "1.1", 0},
	{"1.0", "1.1", -1},
	{"1.0", "1.0-1", -1},
	{"1:1.0", "2.0", 1},
	{"2:1", "1:9", 1},
	{"10:1", "9:1", 1},
	{"1.0~rc1", "1.0", -1},
	{"1.0~rc1", "1.0~rc2", -1},
	{"1.0~~", "1.0~~a", -1},
	{"1.0~~a", "1.0~", -1},
	{"1.0~", "1.0", -1},
	{"1.0", "1.0a", -1},
	{"1.0a", "1.0+", -1},
	{"1.0+", "1.0.", -1},
	{"1.0", "1.0.0", -1},
	{"1.2.3-1~deb12u1", "1.2.3-1", -1},
	{"1.2.3-1+deb12u1", "1.2.3-1", 1},
	{"1.2.3-1+deb12u1", "1.2.3-1+deb12u2", -1},
	{"1.2.3-1+b1", "1.2.3-1", 1},
	{"1.0-1-1", "1.0-1", 1},
	{"2.0~bpo12+1", "2.0", -1},
	{"1.10", "1.9", 1},
	{"1.002", "1.2", 0},
	{"a", "b", -1},
	{"1a", "1", 1},
	{"1", "1~", 1},
	{"7.88.1-10+deb12u8", "7.88.1-10+deb12u12", -1},
	{"99999999999999999999:1", "1:1", 1},
}

// TestCompare checks Compare on dpkg's cases, both ways, and against
// dpkg --compare-versions itself.
func TestCompare(t *testing.T) {
	t.Parallel()
	for _, c := range versionCases {
		if got := Compare(c.a, c.b); got != c.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", c.a, c.b, got, c.want)
		}
		if got := Compare(c.b, c.a); got != -c.want {
			t.Errorf("Compare(%q, %q) = %d, want %d", c.b, c.a, got, -c.want)
		}
		if ValidVersion(c.a) != nil || ValidVersion(c.b) != nil {
			continue // dpkg refuses to compare these
		}
		for op, want := range map[string]bool{"lt": c.want < 0, "eq": c.want == 0, "gt": c.want > 0} {
			err := exec.Command("dpkg", "--compare-versions", c.a, op, c.b).Run()
			if _, exit := err.(*exec.ExitError); err != nil && !exit {
				t.Fatalf("running dpkg --compare-versions: %v", err)
			}
			if (err == nil) != want {
				t.Errorf("dpkg --compare-versions %s %s %s: %v, want %v", c.a, op, c.b, err == nil, want)
			}
		}
	}
}

// TestValidName checks the package name validator.
func TestValidName(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name string
		ok   bool
	}{
		{"bash", true}, {"libc6", true}, {"g++", true}, {"libstdc++6", true}, {"python3.11", true}, {"0ad", true},
		{"x", false}, {"", false}, {"Bash", false}, {"-bash", false}, {".bash", false}, {"+bash", false},
		{"bash:amd64", false}, {"ba sh", false}, {"bash;rm", false}, {"../etc", false}, {"bash_1", false},
		{strings.Repeat("a", maxNameLen), true}, {strings.Repeat("a", maxNameLen+1), false},
	} {
		if err := ValidName(c.name); (err == nil) != c.ok {
			t.Errorf("ValidName(%q) = %v, want ok %v", c.name, err, c.ok)
		}
	}
}

// TestValidVersion checks the version validator, and that dpkg agrees
// where it has an opinion (dpkg --compare-versions refuses a bad version).
func TestValidVersion(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		v  string
		ok bool
	}{
		{"1.0", true}, {"1:1.0-1", true}, {"1.0~rc1-1+deb12u1", true}, {"2.36-9+deb12u9", true}, {"1.0-1-1", true},
		{"1:2:3", true}, {"0", true}, {"1.0+dfsg~1", true},
		{"", false}, {"a1.0", false}, {":1.0", false}, {"a:1.0", false}, {"1.0-", false}, {"1.0-a_b", false},
		{"1.0 1", false}, {"1.0;x", false}, {"-1", false}, {"1.0/2", false}, {"1.0-1:2", false},
		{"1" + strings.Repeat(".0", maxVersionLen), false},
	} {
		if err := ValidVersion(c.v); (err == nil) != c.ok {
			t.Errorf("ValidVersion(%q) = %v, want ok %v", c.v, err, c.ok)
		}
	}
}

// FuzzCompare checks that Compare is a total order: reflexive,
// antisymmetric, transitive on triples, and consistent with dpkg's
// equalities (an epoch of 0 or none, leading zeros).
func FuzzCompare(f *testing.F) {
	for _, c := range versionCases {
		f.Add(c.a, c.b, "1.0")
	}
	f.Fuzz(func(t *testing.T, a, b, c string) {
		if Compare(a, a) != 0 {
			t.Fatalf("Compare(%q, %q) != 0", a, a)
		}
		ab, ba := Compare(a, b), Compare(b, a)
		if ab != -ba || ab < -1 || ab > 1 {
			t.Fatalf("Compare(%q, %q) = %d but Compare(%q, %q) = %d", a, b, ab, b, a, ba)
		}
		bc, ac := Compare(b, c), Compare(a, c)
		if ab <= 0 && bc <= 0 && ac > 0 {
			t.Fatalf("%q <= %q <= %q but Compare(%q, %q) = %d", a, b, c, a, c, ac)
		}
		if ab == 0 && bc == 0 && ac != 0 {
			t.Fatalf("%q == %q == %q but Compare(%q, %q) = %d", a, b, c, a, c, ac)
		}
		if !strings.Contains(a, ":") && Compare("0:"+a, a) != 0 {
			t.Fatalf("Compare(0:%q, %q) != 0", a, a)
		}
	})
}
