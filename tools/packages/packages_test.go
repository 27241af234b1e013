// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/pierrec/lz4/v4"
	"github.com/ulikunitz/xz"

	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// client starts a server with the packages toolset reading status and
// lists, and returns a client of it.
func client(t *testing.T, status, lists string) *toolstest.Client {
	t.Helper()
	ts, err := New(Config{Status: status, Lists: lists})
	if err != nil {
		t.Fatal(err)
	}
	return toolstest.New(t, []tools.Toolset{ts}, nil).Client(t, "system:read")
}

// fixture copies the test lists into a directory of their own, each
// Packages list compressed as compress says by its name's part ("" for
// none), and returns it.
func fixture(t *testing.T, compress map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	ents, err := os.ReadDir("testdata/lists")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		b, err := os.ReadFile(filepath.Join("testdata/lists", e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		name, ext := e.Name(), ""
		for part, c := range compress {
			if strings.Contains(name, part) && strings.HasSuffix(name, "_Packages") {
				ext = c
			}
		}
		if err := os.WriteFile(filepath.Join(dir, name+ext), compressed(t, ext, b), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// compressed compresses b as apt would for a list named with ext.
func compressed(t *testing.T, ext string, b []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	var w io.WriteCloser
	var err error
	switch ext {
	case "":
		return b
	case ".gz":
		w = gzip.NewWriter(&buf)
	case ".lz4":
		w = lz4.NewWriter(&buf)
	case ".xz":
		if w, err = xz.NewWriter(&buf); err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("no compressor for %s", ext)
	}
	if _, err := w.Write(b); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// wantUpdates are check_updates' results on the test files.
var wantUpdates = []Update{
	{Name: "alpha", Architecture: "amd64", Current: "1.0-1", Candidate: "1.0-2", Suite: "stable"},
	{Name: "beta", Architecture: "amd64", Current: "2.0-1", Candidate: "2.0-1+deb12u1", Security: true, Suite: "stable-security"},
	{Name: "delta", Architecture: "amd64", Current: "1.0~rc1-1", Candidate: "1.0-1", Suite: "stable"},
	{Name: "iota", Architecture: "amd64", Current: "2.0", Candidate: "2.1", Security: true, Suite: "stable-security"},
	{Name: "libfoo", Architecture: "amd64", Current: "1.0", Candidate: "1.1", Suite: "stable"},
	{Name: "theta", Architecture: "amd64", Current: "1.0", Candidate: "1.5", Suite: "stable"},
	{Name: "zeta", Architecture: "amd64", Current: "1.0", Candidate: "1.1", Suite: "stable", Held: true},
}

// TestCheckUpdatesFixture checks the exact upgradable and security
// results on the test files, their lists plain and compressed as apt
// keeps them.
func TestCheckUpdatesFixture(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name     string
		compress map[string]string
	}{
		{"plain", nil},
		{"compressed", map[string]string{"stable_main": ".gz", "security": ".lz4", "backports": ".xz"}},
		{"lz4", map[string]string{"stable_main": ".lz4", "security": ".lz4", "backports": ".lz4"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			cl := client(t, filepath.Join(mustAbs(t, "testdata"), "status"), fixture(t, c.compress))
			res := toolstest.OK[CheckResult](t, cl, "check_updates", nil)
			if !slices.Equal(res.Updates, wantUpdates) {
				t.Errorf("updates:\n got %+v\nwant %+v", res.Updates, wantUpdates)
			}
			if res.Upgradable != 7 || res.Security != 2 || res.Truncated {
				t.Errorf("upgradable %d, security %d, truncated %v; want 7, 2, false", res.Upgradable, res.Security, res.Truncated)
			}
			if len(res.Lists) != 3 {
				t.Errorf("lists: %+v", res.Lists)
			}
			for _, l := range res.Lists {
				if l.Security != strings.Contains(l.File, "security") {
					t.Errorf("list %s: security %v", l.File, l.Security)
				}
			}
			if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], "NotAutomatic") {
				t.Errorf("notes: %q, want one on the backports' NotAutomatic", res.Notes)
			}

			sec := toolstest.OK[CheckResult](t, cl, "check_updates", map[string]any{"security_only": true})
			if len(sec.Updates) != 2 || sec.Updates[0].Name != "beta" || sec.Updates[1].Name != "iota" || sec.Upgradable != 7 {
				t.Errorf("security_only: %+v", sec)
			}
			lim := toolstest.OK[CheckResult](t, cl, "check_updates", map[string]any{"limit": 2})
			if len(lim.Updates) != 2 || !lim.Truncated || lim.Upgradable != 7 {
				t.Errorf("limit 2: %+v", lim)
			}
		})
	}
}

func mustAbs(t *testing.T, p string) string {
	t.Helper()
	a, err := filepath.Abs(p)
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// TestListInstalledFixture checks list_installed_packages' filters and
// fields on the test status file.
func TestListInstalledFixture(t *testing.T) {
	t.Parallel()
	cl := client(t, mustAbs(t, "testdata/status"), mustAbs(t, "testdata/lists"))
	names := func(r ListResult) string {
		var n []string
		for _, p := range r.Packages {
			n = append(n, p.Name+":"+p.Architecture)
		}
		return strings.Join(n, " ")
	}
	for _, c := range []struct {
		args    map[string]any
		want    string
		matched int
	}{
		{nil, "alpha:amd64 beta:amd64 delta:amd64 dpkg:amd64 eps:amd64 eta:amd64 gamma:all iota:amd64 kappa:amd64 libfoo:amd64 libfoo:i386 theta:amd64 zeta:amd64", 13},
		{map[string]any{"name": "lib*"}, "libfoo:amd64 libfoo:i386", 2},
		{map[string]any{"name": "?eta"}, "beta:amd64 zeta:amd64", 2},
		{map[string]any{"name": "[a-c]*"}, "alpha:amd64 beta:amd64", 2},
		{map[string]any{"name": "gamma"}, "gamma:all", 1},
		{map[string]any{"name": "nosuch"}, "", 0},
		{map[string]any{"section": "net"}, "gamma:all", 1},
		{map[string]any{"section": "libs", "name": "*o*"}, "iota:amd64 libfoo:amd64 libfoo:i386", 3},
		{map[string]any{"limit": 3}, "alpha:amd64 beta:amd64 delta:amd64", 13},
	} {
		res := toolstest.OK[ListResult](t, cl, "list_installed_packages", c.args)
		if got := names(res); got != c.want || res.Matched != c.matched || res.Truncated != (c.matched > len(res.Packages)) {
			t.Errorf("%v: got %q (matched %d, truncated %v), want %q (matched %d)", c.args, got, res.Matched, res.Truncated, c.want, c.matched)
		}
	}
	res := toolstest.OK[ListResult](t, cl, "list_installed_packages", map[string]any{"name": "alpha"})
	want := Package{Name: "alpha", Version: "1.0-1", Architecture: "amd64", Status: "install ok installed", InstalledSizeKB: 120,
		Source: "alpha-src (0.9-1)", Section: "admin"}
	if len(res.Packages) != 1 || res.Packages[0] != want {
		t.Errorf("alpha: %+v, want %+v", res.Packages, want)
	}
	res = toolstest.OK[ListResult](t, cl, "list_installed_packages", map[string]any{"name": "iota"})
	if res.Packages[0].Source != "iota-src" {
		t.Errorf("iota's source: %q, want iota-src (its version is the package's)", res.Packages[0].Source)
	}
}

// TestBadArguments checks that bad arguments are refused, naming them.
func TestBadArguments(t *testing.T) {
	t.Parallel()
	cl := client(t, mustAbs(t, "testdata/status"), mustAbs(t, "testdata/lists"))
	for _, c := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"list_installed_packages", map[string]any{"name": "../etc"}, `"name"`},
		{"list_installed_packages", map[string]any{"name": "Bash"}, `"name"`},
		{"list_installed_packages", map[string]any{"name": "[a"}, "not a valid glob"},
		{"list_installed_packages", map[string]any{"name": strings.Repeat("a", 200)}, "more than 128"},
		{"list_installed_packages", map[string]any{"section": "a b"}, `"section"`},
		{"list_installed_packages", map[string]any{"limit": 0}, "between 1 and 5000"},
		{"list_installed_packages", map[string]any{"limit": 5001}, "between 1 and 5000"},
		{"check_updates", map[string]any{"limit": 0}, "between 1 and 5000"},
	} {
		if got := toolstest.Err(t, cl, c.tool, c.args); !strings.Contains(got, c.want) {
			t.Errorf("%s %v: %q, want it to say %q", c.tool, c.args, got, c.want)
		}
	}
}

// TestBadFiles checks what missing, garbled and truncated files give: an
// error naming the file when nothing can be answered, a note when the
// rest still can.
func TestBadFiles(t *testing.T) {
	t.Parallel()
	status := mustAbs(t, "testdata/status")
	write := func(t *testing.T, dir, name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	t.Run("errors", func(t *testing.T) {
		t.Parallel()
		dir := t.TempDir()
		garbled := write(t, dir, "garbled", []byte("Package: a\nVersion: 1\nthis is not a field\n"))
		noPackage := write(t, dir, "nopackage", []byte("Version: 1\nStatus: install ok installed\n"))
		badSize := write(t, dir, "badsize", []byte("Package: a\nVersion: 1\nInstalled-Size: lots\n"))
		empty := t.TempDir()
		for _, c := range []struct {
			status, lists, tool string
			want                []string
		}{
			{filepath.Join(dir, "missing"), mustAbs(t, "testdata/lists"), "list_installed_packages", []string{"does not exist", "HOST_VAR"}},
			{filepath.Join(dir, "missing"), mustAbs(t, "testdata/lists"), "check_updates", []string{"does not exist", "HOST_VAR"}},
			{garbled, mustAbs(t, "testdata/lists"), "list_installed_packages", []string{garbled, "line 3", "not a field"}},
			{garbled, mustAbs(t, "testdata/lists"), "check_updates", []string{garbled, "line 3"}},
			{noPackage, mustAbs(t, "testdata/lists"), "list_installed_packages", []string{noPackage, "without a Package"}},
			{badSize, mustAbs(t, "testdata/lists"), "list_installed_packages", []string{badSize, "Installed-Size"}},
			{status, filepath.Join(dir, "nolists"), "check_updates", []string{"does not exist", "/var/lib/apt/lists"}},
			{status, empty, "check_updates", []string{"no Packages lists", "apt-get update"}},
		} {
			got := toolstest.Err(t, client(t, c.status, c.lists), c.tool, nil)
			for _, w := range c.want {
				if !strings.Contains(got, w) {
					t.Errorf("%s on %s, %s: %q, want it to say %q", c.tool, c.status, c.lists, got, w)
				}
			}
		}
	})
	t.Run("notes", func(t *testing.T) {
		t.Parallel()
		lists := fixture(t, map[string]string{"security": ".lz4"})
		sec := filepath.Join(lists, "example.org_debian-security_dists_stable-security_main_binary-amd64_Packages.lz4")
		b, err := os.ReadFile(sec)
		if err != nil {
			t.Fatal(err)
		}
		write(t, lists, filepath.Base(sec), b[:len(b)/2])
		write(t, lists, "example.org_debian_dists_stable_InRelease", []byte("garbage without a colon\n"))
		write(t, lists, "other.example_dists_x_main_binary-amd64_Packages", []byte("Package: alpha\nVersion: 9\nArchitecture: amd64\n\nPackage alpha\n"))
		res := toolstest.OK[CheckResult](t, client(t, status, lists), "check_updates", nil)
		notes := strings.Join(res.Notes, "\n")
		for _, w := range []string{"stable_InRelease: line 1", "security_main_binary-amd64_Packages.lz4:", "other.example_dists_x_main_binary-amd64_Packages: line 5"} {
			if !strings.Contains(notes, w) {
				t.Errorf("notes %q, want one saying %q", notes, w)
			}
		}
		// The stable list is read without its suite; the other list's
		// first paragraph, read before the error, counts.
		var alpha *Update
		for i := range res.Updates {
			if res.Updates[i].Name == "alpha" {
				alpha = &res.Updates[i]
			}
		}
		if alpha == nil || alpha.Candidate != "9" || alpha.Security {
			t.Errorf("alpha: %+v, want candidate 9 from the partly read list", alpha)
		}
	})
}

// TestNew checks the configuration's validation and what the tools
// declare they read and connect to: the PackageKit tools, the status
// file and the system bus socket, DBUS_SYSTEM_BUS_ADDRESS's or the
// default.
func TestNew(t *testing.T) {
	t.Parallel()
	for _, bus := range []struct{ addr, socket string }{
		{"", "/run/dbus/system_bus_socket"},
		{"unix:path=/host/run/dbus/system_bus_socket", "/host/run/dbus/system_bus_socket"},
	} {
		ts, err := New(Config{Host: sandbox.HostPaths{Var: "/host/var", Etc: "/host/etc"}, BusAddress: bus.addr})
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range ts.Tools() {
			want, sockets := []string{"/host/var/lib/dpkg/status", "/host/var/lib/apt/lists"}, []string(nil)
			switch s.Name() {
			case "list_installed_packages":
				want = want[:1]
			case "install_package", "upgrade_packages":
				want, sockets = want[:1], []string{bus.socket}
			case "check_vulnerabilities":
				want = append(want, "/host/etc/os-release", "/usr/lib/os-release")
			}
			if got := s.Needs.Read; !slices.Equal(got, want) {
				t.Errorf("%s reads %q, want %q", s.Name(), got, want)
			}
			if got := s.Needs.Sockets; !slices.Equal(got, sockets) {
				t.Errorf("%s connects to %q, want %q", s.Name(), got, sockets)
			}
		}
	}
	for _, c := range []Config{{Status: "relative/status"}, {BusAddress: "tcp:host=x,port=1"}, {BusAddress: "unix:abstract=x"}, {BusAddress: "unix:path=rel"}} {
		ts, err := New(c)
		if err == nil {
			t.Errorf("New accepted %+v", c)
			continue
		}
		if msg := toolstest.Err(t, toolstest.Direct(ts.Tools()), "install_package", map[string]any{"name": "nginx"}); !strings.Contains(msg, "unavailable") {
			t.Errorf("%+v: install_package says %q", c, msg)
		}
	}
}

// TestThisMachine reads this machine's own dpkg database and apt lists:
// list_installed_packages must agree with dpkg-query, and check_updates
// with apt list --upgradable (both run by the test, never by the server).
func TestThisMachine(t *testing.T) {
	t.Parallel()
	cl := client(t, StatusFile, ListsDir)
	out, err := exec.Command("dpkg-query", "-W", "-f", "${Package} ${Version} ${Architecture} ${db:Status-Abbrev}\n").Output()
	if err != nil {
		t.Fatalf("running dpkg-query: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	res := toolstest.OK[ListResult](t, cl, "list_installed_packages", map[string]any{"limit": 5000})
	if res.Matched != len(lines) {
		t.Errorf("list_installed_packages matched %d packages, dpkg-query lists %d", res.Matched, len(lines))
	}
	got := map[string]string{}
	for _, p := range res.Packages {
		got[p.Name+":"+p.Architecture] = p.Version
	}
	for _, l := range lines {
		f := strings.Fields(l)
		if v := got[f[0]+":"+f[2]]; v != f[1] {
			t.Errorf("%s:%s is %q per list_installed_packages, %q per dpkg-query", f[0], f[2], v, f[1])
		}
	}
	for _, name := range []string{"dpkg", "bash", "libc6"} {
		r := toolstest.OK[ListResult](t, cl, "list_installed_packages", map[string]any{"name": name})
		if r.Matched != 1 || r.Packages[0].Status != "install ok installed" || r.Packages[0].InstalledSizeKB == 0 {
			t.Errorf("%s: %+v", name, r)
		}
	}

	upd := toolstest.OK[CheckResult](t, cl, "check_updates", map[string]any{"limit": 5000})
	if len(upd.Notes) != 0 {
		t.Errorf("notes on this machine's lists: %q", upd.Notes)
	}
	var security bool
	for _, l := range upd.Lists {
		security = security || l.Security && strings.HasSuffix(l.Suite, "-security")
	}
	if !security {
		t.Errorf("no security suite among this machine's lists: %+v", upd.Lists)
	}
	out, err = exec.Command("apt", "list", "--upgradable").Output()
	if err != nil {
		t.Fatalf("running apt list --upgradable: %v", err)
	}
	var want []string
	for _, l := range strings.Split(string(out), "\n") {
		// name/suite[,suite] candidate arch [upgradable from: current]
		f := strings.Fields(l)
		if len(f) < 6 || !strings.HasPrefix(l[strings.Index(l, "["):], "[upgradable from:") {
			continue
		}
		name, suites, _ := strings.Cut(f[0], "/")
		want = append(want, fmt.Sprintf("%s:%s %s -> %s security %v", name, f[2], strings.TrimSuffix(f[5], "]"), f[1], strings.Contains(suites, "-security")))
	}
	var have []string
	for _, u := range upd.Updates {
		have = append(have, fmt.Sprintf("%s:%s %s -> %s security %v", u.Name, u.Architecture, u.Current, u.Candidate, u.Security))
	}
	slices.Sort(want)
	slices.Sort(have)
	if !slices.Equal(have, want) {
		t.Errorf("check_updates:\n%s\napt list --upgradable:\n%s", strings.Join(have, "\n"), strings.Join(want, "\n"))
	}
	t.Logf("%d installed packages, %d upgradable (%d security), %d lists", res.Matched, upd.Upgradable, upd.Security, len(upd.Lists))
}
