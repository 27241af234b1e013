// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"strings"
	"testing"
)

// TestControlParser checks the deb822 parser's reading and bounds: only
// the fields asked for are kept, a field longer than the bound is an
// error when kept and skipped otherwise, whatever its length.
func TestControlParser(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 1<<20)
	for _, c := range []struct {
		name, in string
		want     []string // one "Package|Version" per paragraph
		err      string
	}{
		{"plain", "Package: a\nVersion: 1\n\nPackage: b\nVersion: 2\n", []string{"a|1", "b|2"}, ""},
		{"crlf and blank runs", "Package: a\r\nVersion: 1\r\n\r\n \t\n\r\nPackage: b\r\n", []string{"a|1", "b|"}, ""},
		{"case and spaces", "package:a\nVERSION:   1  \n", []string{"a|1"}, ""},
		{"comments", "# top\nPackage: a\n# inside\nVersion: 1\n", []string{"a|1"}, ""},
		{"continuation kept", "Package: a\nVersion: 1\n  more\n", []string{"a|1\nmore"}, ""},
		{"long unwanted field", "Package: a\nDescription: " + long + "\n " + long + "\nVersion: 1\n", []string{"a|1"}, ""},
		{"long wanted field", "Package: a\nVersion: " + long + "\n", nil, "line 2: field Version is longer than"},
		{"long wanted continuation", "Package: a\nVersion: 1\n " + long + "\n", nil, "line 3: field Version is longer than"},
		{"continuation first", " a\n", nil, "line 1: a continuation line outside a field"},
		{"no colon", "Package: a\nnot a field\n", nil, `line 2: "not a field" is not a field`},
		{"empty name", ": a\n", nil, "line 1:"},
		{"empty input", "", nil, ""},
		{"space in a name", "Package: a\nPack age: b\n", nil, `line 2: "Pack age: b" is not a field`},
		{"tab in a name", "Package: a\nVer\tsion: 1\n", nil, "line 2:"},
		{"names longer or shorter", "Package: a\nPackages: b\nVersio: 2\nVersions: 3\n", []string{"a|"}, ""},
		{"repeated field", "Package: a\nPackage: b\nVersion: 1\n", []string{"b|1"}, ""},
		{"fields reset between paragraphs", "Package: a\nVersion: 1\n\nPackage: b\n\nVersion: 2\n", []string{"a|1", "b|", "|2"}, ""},
	} {
		// A raw parser must read the same as one making strings.
		for _, raw := range []bool{false, true} {
			var got []string
			p := newControlParser(strings.NewReader(c.in), "Package", "Version")
			p.raw = raw
			err := p.parse(func(p *paragraph) error {
				if raw {
					got = append(got, string(p.raw[0])+"|"+string(p.raw[1]))
				} else {
					got = append(got, p.fields[0]+"|"+p.fields[1])
				}
				return nil
			})
			if c.err != "" {
				if err == nil || !strings.Contains(err.Error(), c.err) {
					t.Errorf("%s (raw %v): error %v, want %q", c.name, raw, err, c.err)
				}
				continue
			}
			if err != nil || strings.Join(got, ",") != strings.Join(c.want, ",") {
				t.Errorf("%s (raw %v): %q, %v; want %q", c.name, raw, got, err, c.want)
			}
		}
	}
}

// TestReadRelease checks what is read of Release and InRelease files.
func TestReadRelease(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, in string
		want     release
		security bool
		err      bool
	}{
		{"inrelease", "-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA512\n\nOrigin: Debian\nSuite: bookworm-security\n" +
			"-----BEGIN PGP SIGNATURE-----\n\nabc\n-----END PGP SIGNATURE-----\n",
			release{Origin: "Debian", Suite: "bookworm-security"}, true, false},
		{"ubuntu", "Origin: Ubuntu\nLabel: Ubuntu\nSuite: jammy-security\n", release{Origin: "Ubuntu", Label: "Ubuntu", Suite: "jammy-security"}, true, false},
		{"old debian", "Label: Debian-Security\nSuite: oldoldstable\nCodename: buster\n",
			release{Label: "Debian-Security", Suite: "oldoldstable", Codename: "buster"}, true, false},
		{"updates", "Suite: stable-updates\n", release{Suite: "stable-updates"}, false, false},
		{"backports", "Suite: bookworm-backports\nNotAutomatic: yes\nButAutomaticUpgrades: yes\n",
			release{Suite: "bookworm-backports", NotAutomatic: true, ButAutomaticUpgrades: true}, false, false},
		{"empty", "", release{}, false, true},
		{"signature only", "-----BEGIN PGP SIGNED MESSAGE-----\n", release{}, false, true},
	} {
		rel, err := readRelease(strings.NewReader(c.in))
		if c.err {
			if err == nil {
				t.Errorf("%s: %+v, want an error", c.name, rel)
			}
			continue
		}
		if err != nil || *rel != c.want || rel.security() != c.security {
			t.Errorf("%s: %+v (security %v), %v; want %+v (security %v)", c.name, rel, rel.security(), err, c.want, c.security)
		}
	}
}
