// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// addSeeds adds the test files as seeds of f.
func addSeeds(f *testing.F, paths ...string) {
	f.Helper()
	for _, p := range paths {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzControl parses arbitrary deb822 data as the status file is: it
// must never panic, and what it keeps must be within its bounds, one
// paragraph per call, in order, starting on lines that exist; a raw
// parser (as Packages lists are read) must read the same paragraphs and
// fail the same way.
func FuzzControl(f *testing.F) {
	addSeeds(f, "testdata/status", "testdata/lists/example.org_debian_dists_stable_main_binary-amd64_Packages")
	f.Add([]byte("Package: a\r\nVersion: 1\r\n\r\n\r\nPackage: b\n#c\n desc\n"))
	f.Add([]byte(" continuation first\n"))
	f.Add([]byte("Package: " + strings.Repeat("x", 70<<10) + "\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		lines := bytes.Count(data, []byte("\n")) + 1
		last := 0
		var read []string
		err := newControlParser(bytes.NewReader(data), statusKeys...).parse(func(p *paragraph) error {
			if p.line <= last || p.line > lines {
				t.Fatalf("paragraph on line %d after one on line %d, of %d lines", p.line, last, lines)
			}
			last = p.line
			for i, v := range p.fields {
				if len(v) > maxFieldLen {
					t.Fatalf("field %s kept %d bytes", statusKeys[i], len(v))
				}
			}
			read = append(read, fmt.Sprint(p.line, p.fields))
			return nil
		})
		if err != nil && !strings.HasPrefix(err.Error(), "line ") {
			t.Fatalf("error without a line number: %v", err)
		}
		raw := newControlParser(bytes.NewReader(data), statusKeys...)
		raw.raw = true
		var rawRead []string
		rawErr := raw.parse(func(p *paragraph) error {
			fields := make([]string, len(p.raw))
			for i, v := range p.raw {
				fields[i] = string(v)
			}
			rawRead = append(rawRead, fmt.Sprint(p.line, fields))
			return nil
		})
		if fmt.Sprint(err) != fmt.Sprint(rawErr) || !slices.Equal(read, rawRead) {
			t.Fatalf("raw parser read %q, %v; the other %q, %v", rawRead, rawErr, read, err)
		}
	})
}

// FuzzRelease parses arbitrary Release and InRelease files: never a
// panic, and a result or an error.
func FuzzRelease(f *testing.F) {
	addSeeds(f, "testdata/lists/example.org_debian_dists_stable_InRelease",
		"testdata/lists/example.org_debian-security_dists_stable-security_Release",
		"testdata/lists/example.org_debian_dists_stable-backports_Release")
	f.Add([]byte("-----BEGIN PGP SIGNED MESSAGE-----\nHash: SHA256\n"))
	f.Add([]byte("-----BEGIN PGP SIGNED MESSAGE-----\n\n-----BEGIN PGP SIGNATURE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rel, err := readRelease(bytes.NewReader(data))
		if (rel == nil) == (err == nil) {
			t.Fatalf("release %+v and error %v", rel, err)
		}
		if rel != nil && rel.security() && !strings.HasSuffix(rel.Suite, "-security") && !strings.HasSuffix(rel.Suite, "/updates") &&
			!strings.HasSuffix(rel.Codename, "-security") && !strings.HasSuffix(rel.Codename, "/updates") && rel.Label != "Debian-Security" {
			t.Fatalf("%+v is security for no reason", rel)
		}
	})
}

// FuzzScanList reads arbitrary data as a Packages list: never a panic,
// and every version passed on has a name and a version.
func FuzzScanList(f *testing.F) {
	addSeeds(f, "testdata/lists/example.org_debian_dists_stable_main_binary-amd64_Packages",
		"testdata/lists/example.org_debian-security_dists_stable-security_main_binary-amd64_Packages")
	f.Fuzz(func(t *testing.T, data []byte) {
		scanList(bytes.NewReader(data), func(name, version, arch []byte) error {
			if len(name) == 0 || len(version) == 0 {
				t.Fatalf("version %q of %q passed on", version, name)
			}
			return nil
		})
	})
}

// TestFuzzSeedsInTestdata checks each fuzz target has its seed corpus
// directory, so that go test runs the seeds found by fuzzing before.
func TestFuzzSeedsInTestdata(t *testing.T) {
	t.Parallel()
	for _, name := range []string{"FuzzCompare", "FuzzControl", "FuzzPickInstall", "FuzzRelease", "FuzzScanList"} {
		ents, err := os.ReadDir(filepath.Join("testdata", "fuzz", name))
		if err != nil || len(ents) == 0 {
			t.Errorf("%s has no seeds in testdata/fuzz: %v", name, err)
		}
	}
}

// FuzzPickInstall chooses among arbitrary package ids, as PackageKit's
// Resolve could send them: never a panic; an id chosen is of the name
// asked for, at the version asked for when one was, with four parts.
func FuzzPickInstall(f *testing.F) {
	f.Add("tailops-test-pkg;2.0;all;local\ntailops-test-pkg;1.0;all;installed:local", []byte{2, 1}, "tailops-test-pkg", "1.0")
	f.Add("a;1;amd64;x\na;2;amd64;y\nb;3;all;z", []byte{2, 2, 2}, "a", "")
	f.Add("a;;;\n;;;\na;1;2;3;4", []byte{1, 2, 9}, "a", "3")
	f.Fuzz(func(t *testing.T, ids string, infos []byte, name, version string) {
		var pkgs []pkPackage
		for i, id := range strings.Split(ids, "\n") {
			var info uint32
			if i < len(infos) {
				info = uint32(infos[i])
			}
			pkgs = append(pkgs, pkPackage{Info: info, ID: id})
		}
		id, installed, _, _, err := pickInstall(pkgs, name, version)
		if id == "" {
			return
		}
		n, v, _, _, ok := idParts(id)
		if err != nil || installed != "" || !ok || n != name || version != "" && v != version {
			t.Fatalf("pickInstall(%q, %q) = %q, %q, %v", name, version, id, installed, err)
		}
	})
}
