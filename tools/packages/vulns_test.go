// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// vulnClient starts a server whose packages toolset reads the fixture
// status and lists, and the vulnerability data as cfg says, for bookworm.
func vulnClient(t *testing.T, cfg Config) *toolstest.Client {
	t.Helper()
	cfg.Status, cfg.Lists = "testdata/status", fixture(t, nil)
	cfg.Status, _ = filepath.Abs(cfg.Status)
	if cfg.Release == "" && cfg.Host.Etc == "" {
		cfg.Release = "bookworm"
	}
	ts, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return toolstest.New(t, []tools.Toolset{ts}, nil).Client(t, "system:read")
}

// trackerServer serves the fixture tracker JSON on loopback and counts
// the requests.
func trackerServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	b, err := os.ReadFile("testdata/tracker.json")
	if err != nil {
		t.Fatal(err)
	}
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n.Add(1)
		w.Header().Set("Content-Type", "application/json")
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv, &n
}

// cves returns the CVE ids of a result, sorted.
func cves(r VulnResult) []string {
	var out []string
	for _, v := range r.Vulnerabilities {
		out = append(out, v.CVE)
	}
	slices.Sort(out)
	return out
}

// TestCheckVulnerabilitiesFile reads the tracker's data from a file and
// compares it with the fixture's installed packages: source packages
// (alpha is built from alpha-src; the entry under "alpha" never applies),
// version boundaries (fixed in the installed version, fixed_version 0,
// epochs, tildes), open and <unfixed> issues, and the filters.
func TestCheckVulnerabilitiesFile(t *testing.T) {
	t.Parallel()
	data, _ := filepath.Abs("testdata/tracker.json")
	c := vulnClient(t, Config{VulnData: data})
	all := []string{"CVE-2024-1000", "CVE-2024-1003", "CVE-2024-2000", "CVE-2024-3000", "CVE-2024-4002", "CVE-2024-5000", "CVE-2024-6000", "TEMP-0000000-1A2B3C"}
	for _, tc := range []struct {
		name string
		args map[string]any
		want []string
	}{
		{"all", nil, all},
		{"fixed only", map[string]any{"fixed_only": true}, []string{"CVE-2024-1000", "CVE-2024-2000", "CVE-2024-3000", "CVE-2024-5000"}},
		{"medium and up, untriaged kept", map[string]any{"min_urgency": "medium"}, []string{"CVE-2024-1000", "CVE-2024-2000", "CVE-2024-3000", "CVE-2024-4002", "CVE-2024-6000"}},
		{"high", map[string]any{"min_urgency": "high", "fixed_only": true}, []string{"CVE-2024-2000"}},
		{"binary name maps to its source", map[string]any{"package": "alpha"}, []string{"CVE-2024-1000", "CVE-2024-1003"}},
		{"source name", map[string]any{"package": "alpha-src"}, []string{"CVE-2024-1000", "CVE-2024-1003"}},
		{"removed package", map[string]any{"package": "eps"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := toolstest.OK[VulnResult](t, c, "check_vulnerabilities", tc.args)
			if got := cves(r); !slices.Equal(got, tc.want) {
				t.Errorf("CVEs %v, want %v", got, tc.want)
			}
			if r.Affected != len(tc.want) || r.Truncated || r.Release != "bookworm" || r.Source != data {
				t.Errorf("affected %d, truncated %v, release %q, source %q", r.Affected, r.Truncated, r.Release, r.Source)
			}
		})
	}
	r := toolstest.OK[VulnResult](t, c, "check_vulnerabilities", nil)
	byID := map[string]Vulnerability{}
	for _, v := range r.Vulnerabilities {
		byID[v.CVE] = v
	}
	for id, want := range map[string]Vulnerability{
		"CVE-2024-1000": {Package: "alpha-src", Binaries: []string{"alpha"}, Installed: "0.9-1", Fixed: "1.0-1", Status: "resolved", Urgency: "medium", Candidate: "1.0-2", UpdateAvail: true, UpdateFixes: true},
		"CVE-2024-1003": {Package: "alpha-src", Binaries: []string{"alpha"}, Installed: "0.9-1", Status: "open", Urgency: "low", NoDSA: "Minor issue", Candidate: "1.0-2", UpdateAvail: true},
		"CVE-2024-2000": {Package: "beta", Binaries: []string{"beta"}, Installed: "2.0-1", Fixed: "2.0-1+deb12u1", Status: "resolved", Urgency: "high", Candidate: "2.0-1+deb12u1", UpdateAvail: true, UpdateFixes: true},
		"CVE-2024-3000": {Package: "foo", Binaries: []string{"libfoo"}, Installed: "1.0", Fixed: "1.2", Status: "resolved", Urgency: "medium", Candidate: "1.1", UpdateAvail: true},
		"CVE-2024-6000": {Package: "iota-src", Binaries: []string{"iota"}, Installed: "2.0-0", Status: "open", Urgency: "high", Candidate: "2.1", UpdateAvail: true},
	} {
		got := byID[id]
		got.CVE, got.Description, got.Scope = "", "", ""
		if !slices.Equal(got.Binaries, want.Binaries) || got.Package != want.Package || got.Installed != want.Installed || got.Fixed != want.Fixed ||
			got.Status != want.Status || got.Urgency != want.Urgency || got.NoDSA != want.NoDSA || got.Candidate != want.Candidate ||
			got.UpdateAvail != want.UpdateAvail || got.UpdateFixes != want.UpdateFixes {
			t.Errorf("%s: %+v, want %+v", id, got, want)
		}
	}
	if r.Vulnerabilities[0].Urgency != "high" || r.ByUrgency["high"] != 2 || r.ByUrgency["not yet assigned"] != 1 {
		t.Errorf("not ordered most urgent first, or miscounted: first %+v, by urgency %v", r.Vulnerabilities[0], r.ByUrgency)
	}
	r = toolstest.OK[VulnResult](t, c, "check_vulnerabilities", map[string]any{"limit": 2})
	if len(r.Vulnerabilities) != 2 || !r.Truncated || r.Affected != len(all) {
		t.Errorf("limit 2: %d returned, truncated %v, affected %d", len(r.Vulnerabilities), r.Truncated, r.Affected)
	}
	for _, tc := range []struct{ args map[string]any }{
		{map[string]any{"package": "Bad Name"}}, {map[string]any{"min_urgency": "critical"}}, {map[string]any{"limit": 0}},
	} {
		if msg := toolstest.Err(t, c, "check_vulnerabilities", tc.args); msg == "" {
			t.Errorf("%v: no error", tc.args)
		}
	}
}

// TestCheckVulnerabilitiesURL fetches the data from a server on loopback
// that the destination policy allows, keeps it in memory (one fetch for
// two calls, with its age), and fetches again on refresh.
func TestCheckVulnerabilitiesURL(t *testing.T) {
	t.Parallel()
	srv, hits := trackerServer(t)
	c := vulnClient(t, Config{VulnData: srv.URL + "/tracker/data/json", VulnAllow: []string{"127.0.0.1/32"}})
	r := toolstest.OK[VulnResult](t, c, "check_vulnerabilities", map[string]any{"package": "beta"})
	if got := cves(r); !slices.Equal(got, []string{"CVE-2024-2000"}) || r.Source != srv.URL+"/tracker/data/json" {
		t.Fatalf("CVEs %v from %s", got, r.Source)
	}
	at, err := time.Parse(time.RFC3339, r.FetchedAt)
	if err != nil || time.Since(at) > time.Minute {
		t.Errorf("fetched_at %q: %v", r.FetchedAt, err)
	}
	r = toolstest.OK[VulnResult](t, c, "check_vulnerabilities", nil)
	if hits.Load() != 1 || r.FetchedAt != at.UTC().Format(time.RFC3339) || r.Affected != 8 {
		t.Errorf("second call: %d fetches (want 1, from memory), fetched_at %q, affected %d", hits.Load(), r.FetchedAt, r.Affected)
	}
	toolstest.OK[VulnResult](t, c, "check_vulnerabilities", map[string]any{"refresh": true})
	if hits.Load() != 1 {
		t.Errorf("refresh right after a fetch: %d fetches, want 1 (at most one every 5 minutes)", hits.Load())
	}
}

// TestCheckVulnerabilitiesRefresh: refresh fetches again once the copy
// is older than the refresh floor.
func TestCheckVulnerabilitiesRefresh(t *testing.T) {
	t.Parallel()
	srv, hits := trackerServer(t)
	ts, err := New(Config{VulnData: srv.URL + "/json", VulnAllow: []string{"127.0.0.1/32"}, Release: "bookworm", Status: mustAbs(t, "testdata/status"), Lists: fixture(t, nil)})
	if err != nil {
		t.Fatal(err)
	}
	ts.vulnCache.minRefresh = time.Nanosecond
	c := toolstest.New(t, []tools.Toolset{ts}, nil).Client(t, "system:read")
	toolstest.OK[VulnResult](t, c, "check_vulnerabilities", nil)
	toolstest.OK[VulnResult](t, c, "check_vulnerabilities", nil)
	toolstest.OK[VulnResult](t, c, "check_vulnerabilities", map[string]any{"refresh": true})
	if hits.Load() != 2 {
		t.Errorf("%d fetches, want 2: one, one from memory, one refresh", hits.Load())
	}
}

// TestCheckVulnerabilitiesRefused: a URL the destination policy does not
// allow (loopback, not on the allow-list; a loopback port not allowed)
// is never fetched, and the error says how to allow it.
func TestCheckVulnerabilitiesRefused(t *testing.T) {
	t.Parallel()
	srv, hits := trackerServer(t)
	for _, tc := range []struct {
		name  string
		allow []string
	}{
		{"no allow-list", nil},
		{"another address", []string{"192.168.1.0/24"}},
		{"another port", []string{"127.0.0.1:1"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := vulnClient(t, Config{VulnData: srv.URL + "/json", VulnAllow: tc.allow})
			msg := toolstest.Err(t, c, "check_vulnerabilities", nil)
			if !strings.Contains(msg, "refused by policy") || !strings.Contains(msg, "--vuln-data-allow") {
				t.Errorf("error %q: want a policy refusal naming --vuln-data-allow", msg)
			}
		})
	}
	if hits.Load() != 0 {
		t.Errorf("the server got %d requests", hits.Load())
	}
}

// TestCheckVulnerabilitiesBadData: data that is not the tracker's, a
// missing file and an HTTP error are errors that say what is wrong.
func TestCheckVulnerabilitiesBadData(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.json")
	os.WriteFile(bad, []byte(`[{"CVE-2024-1": "not the tracker's shape"}]`), 0o644)
	srv := httptest.NewServer(http.NotFoundHandler())
	t.Cleanup(srv.Close)
	for _, tc := range []struct{ name, data, want string }{
		{"array", bad, "not the Debian security tracker's JSON"},
		{"missing file", filepath.Join(dir, "none.json"), "no such file"},
		{"404", srv.URL + "/json", "404 Not Found"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c := vulnClient(t, Config{VulnData: tc.data, VulnAllow: []string{"127.0.0.1/32"}})
			if msg := toolstest.Err(t, c, "check_vulnerabilities", nil); !strings.Contains(msg, tc.want) {
				t.Errorf("error %q, want it to say %q", msg, tc.want)
			}
		})
	}
}

// TestVulnConfig: a bad --vuln-data or release makes check_vulnerabilities
// unavailable (and New fail), the other tools stay; the needs follow the
// source: the file, or the URL's port.
func TestVulnConfig(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		cfg  Config
		ok   bool
		port uint16
		file string
	}{
		{"default", Config{}, true, 443, ""},
		{"http port", Config{VulnData: "http://mirror.example:8080/json"}, true, 8080, ""},
		{"file", Config{VulnData: "/srv/tracker.json"}, true, 0, "/srv/tracker.json"},
		{"relative", Config{VulnData: "tracker.json"}, false, 0, ""},
		{"ftp", Config{VulnData: "ftp://example.org/json"}, false, 0, ""},
		{"user info", Config{VulnData: "https://u:p@example.org/json"}, false, 0, ""},
		{"bad allow", Config{VulnAllow: []string{"not a host!"}}, false, 0, ""},
		{"bad release", Config{Release: "Bookworm 12"}, false, 0, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, err := New(tc.cfg)
			if (err == nil) != tc.ok {
				t.Fatalf("New: %v, want ok %v", err, tc.ok)
			}
			if err != nil && strings.Contains(err.Error(), "u:p@") {
				t.Errorf("the error shows the URL's password: %v", err)
			}
			for _, s := range ts.Tools() {
				if s.Name() != "check_vulnerabilities" {
					continue
				}
				n := s.Needs
				if tc.ok && (tc.port == 0) != (len(n.TCPPorts) == 0) || tc.port != 0 && (!n.DNS || n.TCPPorts[0] != tc.port) {
					t.Errorf("needs %+v, want port %d", n, tc.port)
				}
				if tc.file != "" && !slices.Contains(n.Read, tc.file) {
					t.Errorf("needs %+v do not read %s", n, tc.file)
				}
			}
		})
	}
}

// TestReadCodename reads VERSION_CODENAME, falling back on
// /usr/lib/os-release, and refuses a release without one.
func TestReadCodename(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, etc, usr, want, err string }{
		{"etc", "ID=debian\nVERSION_CODENAME=bookworm\n", "", "bookworm", ""},
		{"quoted", "VERSION_CODENAME=\"trixie\"\n", "", "trixie", ""},
		{"usr lib", "", "VERSION_CODENAME=bullseye\n", "bullseye", ""},
		{"sid", "PRETTY_NAME=\"Debian GNU/Linux trixie/sid\"\n", "", "", "no VERSION_CODENAME"},
		{"bad", "VERSION_CODENAME=../etc\n", "", "", "release codename"},
		{"none", "", "", "", "no os-release file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			var paths []string
			for i, p := range osReleaseFiles {
				paths = append(paths, filepath.Join(root, p))
				if body := []string{tc.etc, tc.usr}[i]; body != "" {
					os.MkdirAll(filepath.Dir(paths[i]), 0o755)
					os.WriteFile(paths[i], []byte(body), 0o644)
				}
			}
			got, err := readCodename(paths)
			if got != tc.want || (err == nil) != (tc.err == "") || err != nil && !strings.Contains(err.Error(), tc.err) {
				t.Errorf("readCodename: %q, %v; want %q, error with %q", got, err, tc.want, tc.err)
			}
		})
	}
}

// TestAffects: the version boundaries of an entry.
func TestAffects(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		status, fixed, installed string
		want                     bool
	}{
		{"resolved", "1.0-1", "0.9-1", true},
		{"resolved", "1.0-1", "1.0-1", false},
		{"resolved", "1.0-1", "1.0-1+b1", false},
		{"resolved", "1.0-1", "1.0~rc1-1", true},
		{"resolved", "1:0.5", "2.0", true},
		{"resolved", "2.0", "1:0.5", false},
		{"resolved", "0", "0.1", false},
		{"resolved", "0", "0", false},
		{"open", "", "9.9", true},
		{"open", "<unfixed>", "9.9", true},
		{"undetermined", "", "1.0", true},
		{"resolved", "", "1.0", false},
	} {
		if got := affects(trackerEntry{Status: tc.status, Fixed: tc.fixed}, tc.installed); got != tc.want {
			t.Errorf("%s fixed %q, installed %q: affected %v, want %v", tc.status, tc.fixed, tc.installed, got, tc.want)
		}
	}
}

// TestCheckVulnerabilitiesHostRelease: without a configured release, the
// codename is the host's, read under HOST_ETC.
func TestCheckVulnerabilitiesHostRelease(t *testing.T) {
	t.Parallel()
	etc := t.TempDir()
	os.WriteFile(filepath.Join(etc, "os-release"), []byte("ID=debian\nVERSION_CODENAME=bullseye\n"), 0o644)
	data, _ := filepath.Abs("testdata/tracker.json")
	c := vulnClient(t, Config{VulnData: data, Host: sandbox.HostPaths{Etc: etc}, Release: ""})
	r := toolstest.OK[VulnResult](t, c, "check_vulnerabilities", map[string]any{"package": "beta"})
	if got := cves(r); r.Release != "bullseye" || !slices.Equal(got, []string{"CVE-2023-2001", "CVE-2024-2000"}) {
		t.Errorf("release %q, CVEs %v", r.Release, got)
	}
}
