// SPDX-License-Identifier: Apache-2.0

package packages

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	sdk "github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/internal/systemdtest"
	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// testPkg is the package the tests build, install and upgrade; testOther
// is the one the polkit test installs as nobody.
const (
	testPkg   = "tailops-test-pkg"
	testOther = "tailops-test-other"
)

// buildDeb builds the package name at version (architecture all, one
// file, /usr/share/NAME/version, saying the version) into dir.
func buildDeb(t *testing.T, dir, name, version string) {
	t.Helper()
	root := filepath.Join(t.TempDir(), name+"_"+version)
	for _, d := range []string{"DEBIAN", "usr/share/" + name} {
		if err := os.MkdirAll(filepath.Join(root, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	control := fmt.Sprintf("Package: %s\nVersion: %s\nArchitecture: all\nMaintainer: TailOps tests <tests@tailops.invalid>\n"+
		"Section: misc\nPriority: optional\nDescription: TailOps test package\n the tools/packages tests install it in a test bed\n", name, version)
	if err := os.WriteFile(filepath.Join(root, "DEBIAN/control"), []byte(control), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "usr/share", name, "version"), []byte(version+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("dpkg-deb", "--root-owner-group", "--build", root, filepath.Join(dir, name+"_"+version+"_all.deb")).CombinedOutput()
	if err != nil {
		t.Fatalf("dpkg-deb --build (apt-get install -y dpkg-dev): %v\n%s", err, out)
	}
}

// pkBed is a systemd test bed with a writable root, apt's only source a
// local repository in its /srv/repo, and PackageKit activatable.
type pkBed struct {
	*systemdtest.Bed
	repo string
}

// startPKBed boots the bed and writes the repository: testPkg 1.0 and
// 2.0, testOther 1.0, indexed by dpkg-scanpackages.
func startPKBed(t *testing.T) *pkBed {
	t.Helper()
	for _, c := range []string{"/usr/libexec/packagekitd", "/usr/bin/dpkg-deb", "/usr/bin/dpkg-scanpackages"} {
		if _, err := os.Stat(c); err != nil {
			t.Fatalf("the PackageKit tests need %s: apt-get install -y packagekit dpkg-dev", c)
		}
	}
	bed := &pkBed{Bed: systemdtest.StartWith(t, systemdtest.Options{WritableRoot: true})}
	bed.repo = filepath.Join(bed.Srv, "repo")
	if err := os.MkdirAll(bed.repo, 0o755); err != nil {
		t.Fatal(err)
	}
	buildDeb(t, bed.repo, testPkg, "1.0")
	buildDeb(t, bed.repo, testPkg, "2.0")
	buildDeb(t, bed.repo, testOther, "1.0")
	scan := exec.Command("dpkg-scanpackages", "--multiversion", ".", "/dev/null")
	scan.Dir = bed.repo
	idx, err := scan.Output()
	if err != nil {
		t.Fatalf("dpkg-scanpackages: %v", err)
	}
	if err := os.WriteFile(filepath.Join(bed.repo, "Packages"), idx, 0o644); err != nil {
		t.Fatal(err)
	}
	// A Release file naming the index: without one apt tries every
	// compressed name first, and PackageKit takes those misses for errors.
	release := fmt.Sprintf("Origin: tailops-test\nLabel: tailops-test\nDate: %s\nSHA256:\n %x %d Packages\n",
		time.Now().UTC().Format(time.RFC1123Z), sha256.Sum256(idx), len(idx))
	if err := os.WriteFile(filepath.Join(bed.repo, "Release"), []byte(release), 0o644); err != nil {
		t.Fatal(err)
	}
	// apt in the bed (its root is an overlay: the host's apt is not
	// changed) reads only the test's source: a flat repository, trusted
	// as a local file source is.
	if err := os.MkdirAll(filepath.Join(bed.Srv, "apt/sources.list.d"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bed.Srv, "apt/sources.list"), []byte("deb [trusted=yes] file:/srv/repo ./\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	conf := "Dir::Etc::sourcelist \"/srv/apt/sources.list\";\nDir::Etc::sourceparts \"/srv/apt/sources.list.d\";\n"
	if err := os.WriteFile(bed.Path("/etc/apt/apt.conf.d/99tailops-test"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	// PackageKit refuses to refresh "whilst offline": without a default
	// route. One through loopback, in the bed's own network namespace,
	// satisfies it and carries nothing anywhere.
	bed.Run(t, "ip", "route", "add", "default", "dev", "lo")
	return bed
}

// version returns dpkg-query's version and status of name in the bed,
// "" when dpkg does not know it.
func (b *pkBed) version(t *testing.T, name string) string {
	t.Helper()
	out, _ := b.Command(t.Context(), "dpkg-query", "-W", "-f=${Version} ${db:Status-Status}", name).Output()
	return strings.TrimSpace(string(out))
}

// newPKToolset returns the packages toolset on the bed's bus and dpkg.
func (b *pkBed) toolset(t *testing.T) *Toolset {
	t.Helper()
	ts, err := New(Config{BusAddress: b.BusAddress(), Status: b.Path(StatusFile), Lists: b.Path(ListsDir)})
	if err != nil {
		t.Fatal(err)
	}
	return ts
}

// progressClient is an MCP client of s (the official Go SDK's, which
// hands progress notifications to a handler) with system:admin, and what
// it records of them.
type progressClient struct {
	sess  *sdk.ClientSession
	mu    sync.Mutex
	notes []map[string]any
}

// bearer adds a bearer token to every request.
type bearer struct {
	token string
	next  http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.token)
	return b.next.RoundTrip(r)
}

func newProgressClient(t *testing.T, s *toolstest.Server) *progressClient {
	t.Helper()
	pc := &progressClient{}
	c := sdk.NewClient(&sdk.Implementation{Name: "packagekit-test", Version: "1"}, &sdk.ClientOptions{
		ProgressNotificationHandler: func(_ context.Context, r *sdk.ProgressNotificationClientRequest) {
			pc.mu.Lock()
			defer pc.mu.Unlock()
			pc.notes = append(pc.notes, map[string]any{"progressToken": r.Params.ProgressToken, "progress": r.Params.Progress,
				"total": r.Params.Total, "message": r.Params.Message})
		}})
	sess, err := c.Connect(t.Context(), &sdk.StreamableClientTransport{Endpoint: s.URL,
		HTTPClient: &http.Client{Transport: bearer{s.Token(t, auth.ScopeSystemAdmin), http.DefaultTransport}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	pc.sess = sess
	return pc
}

// call calls tool with a progress token and returns the result's
// structured content (failing the test on a tool error) and the progress
// notifications that came with it.
func (pc *progressClient) call(t *testing.T, tool, token string, args map[string]any, out any) []map[string]any {
	t.Helper()
	pc.mu.Lock()
	pc.notes = nil
	pc.mu.Unlock()
	params := &sdk.CallToolParams{Name: tool, Arguments: args}
	params.SetProgressToken(token)
	res, err := pc.sess.CallTool(t.Context(), params)
	if err != nil {
		t.Fatalf("%s: %v", tool, err)
	}
	b, _ := json.Marshal(res.StructuredContent)
	if res.IsError || json.Unmarshal(b, out) != nil {
		t.Fatalf("%s: %s %+v", tool, b, res.Content)
	}
	get := func() []map[string]any {
		pc.mu.Lock()
		defer pc.mu.Unlock()
		return slices.Clone(pc.notes)
	}
	// Notifications travel apart from the response: wait for the last.
	toolstest.WaitFor(t, "the final progress notification", func() bool {
		n := get()
		return len(n) > 0 && n[len(n)-1]["progress"] == n[len(n)-1]["total"]
	})
	return get()
}

// checkProgress checks notifications: some, each with the token, the
// progress rising strictly, the last at its total.
func checkProgress(t *testing.T, notes []map[string]any, token string) {
	t.Helper()
	if len(notes) < 3 {
		t.Errorf("%d progress notifications, want several: %v", len(notes), notes)
	}
	last := -1.0
	for _, n := range notes {
		p, _ := n["progress"].(float64)
		if total, _ := n["total"].(float64); total != 0 && p > total {
			t.Errorf("progress notification %v beyond its total", n)
		}
		if n["progressToken"] != token || p <= last {
			t.Errorf("progress notification %v after progress %v (token %s)", n, last, token)
		}
		last = p
	}
}

// TestPackageKit runs install_package and upgrade_packages against the
// machine's real PackageKit (Debian's packagekit, apt backend), D-Bus
// activated in a systemd test bed whose root is an overlay of the host's:
// it installs and upgrades a package built here from a local apt
// repository, in the bed's dpkg database, leaving the host's unchanged.
func TestPackageKit(t *testing.T) {
	bed := startPKBed(t)
	ts := bed.toolset(t)
	hostHas := func() bool { return exec.Command("dpkg-query", "-W", testPkg).Run() == nil }
	if hostHas() {
		t.Fatalf("%s is installed on the host before the test: remove it (dpkg -r %s)", testPkg, testPkg)
	}

	t.Run("approval_denied", func(t *testing.T) {
		// No approval gate: a critical call is refused, and nothing is
		// installed.
		c := toolstest.New(t, []tools.Toolset{ts}, nil).Client(t, "system:admin")
		if msg := toolstest.Err(t, c, "install_package", map[string]any{"name": testPkg, "version": "1.0"}); !strings.Contains(msg, "approval") {
			t.Errorf("install_package without approval: %q", msg)
		}
		if v := bed.version(t, testPkg); v != "" {
			t.Errorf("after a refused install, dpkg says %s is %q", testPkg, v)
		}
	})

	s := toolstest.New(t, []tools.Toolset{ts}, &toolstest.Options{Approve: true})
	c := s.Client(t, "system:admin")
	pc := newProgressClient(t, s)

	t.Run("install", func(t *testing.T) {
		var got InstallResult
		prog := pc.call(t, "install_package", "install-1", map[string]any{"name": testPkg, "version": "1.0"}, &got)
		want := []Change{{Name: testPkg, Architecture: "all", Action: "installed", To: "1.0"}}
		if got.Name != testPkg || got.Version != "1.0" || got.AlreadyInstalled || fmt.Sprint(got.Changes) != fmt.Sprint(want) || got.RefreshWarning != "" {
			t.Errorf("install_package: %+v, want changes %+v", got, want)
		}
		checkProgress(t, prog, "install-1")
		if v := bed.version(t, testPkg); v != "1.0 installed" {
			t.Errorf("dpkg-query in the bed: %q", v)
		}
		if b, err := os.ReadFile(bed.Path("/usr/share/" + testPkg + "/version")); err != nil || string(b) != "1.0\n" {
			t.Errorf("the package's file: %q, %v", b, err)
		}
		if hostHas() {
			t.Errorf("%s reached the host's dpkg database", testPkg)
		}
		again := toolstest.OK[InstallResult](t, c, "install_package", map[string]any{"name": testPkg, "version": "1.0"})
		if !again.AlreadyInstalled || again.Version != "1.0" || len(again.Changes) != 0 {
			t.Errorf("installing it again: %+v", again)
		}
		// The audit log says the calls were critical and approved.
		n := 0
		for _, r := range s.Records(t) {
			if r["event"] == "tool_call" && r["tool"] == "install_package" && r["result"] == "success" {
				n++
				if r["risk"] != "critical" || r["approval"] == nil {
					t.Errorf("audit record: %v", r)
				}
			}
		}
		if n != 2 {
			t.Errorf("%d successful install_package records, want 2", n)
		}
	})

	t.Run("upgrade", func(t *testing.T) {
		var got UpgradeResult
		prog := pc.call(t, "upgrade_packages", "upgrade-1", map[string]any{"packages": []string{testPkg}}, &got)
		want := []Change{{Name: testPkg, Architecture: "all", Action: "upgraded", From: "1.0", To: "2.0"}}
		if fmt.Sprint(got.Changes) != fmt.Sprint(want) || len(got.UpToDate) != 0 || len(got.Held) != 0 {
			t.Errorf("upgrade_packages: %+v, want changes %+v", got, want)
		}
		checkProgress(t, prog, "upgrade-1")
		if v := bed.version(t, testPkg); v != "2.0 installed" {
			t.Errorf("dpkg-query in the bed: %q", v)
		}
		// Everything: nothing is left to upgrade from the bed's only source.
		all := toolstest.OK[UpgradeResult](t, c, "upgrade_packages", nil)
		if len(all.Changes) != 0 {
			t.Errorf("upgrade_packages of everything after the upgrade: %+v", all)
		}
		named := toolstest.OK[UpgradeResult](t, c, "upgrade_packages", map[string]any{"packages": []string{testPkg}})
		if len(named.Changes) != 0 || fmt.Sprint(named.UpToDate) != "["+testPkg+"]" {
			t.Errorf("upgrade_packages of an up-to-date package: %+v", named)
		}
	})

	t.Run("errors", func(t *testing.T) {
		for _, tc := range []struct {
			tool string
			args map[string]any
			want []string
		}{
			{"install_package", map[string]any{"name": "tailops-no-such-pkg"}, []string{"tailops-no-such-pkg", "not found in the apt sources", "add the apt source"}},
			{"install_package", map[string]any{"name": testPkg, "version": "9.9"}, []string{"9.9", "not found in the apt sources", "2.0"}},
			{"upgrade_packages", map[string]any{"packages": []string{testOther}}, []string{"not installed", testOther, "install_package"}},
		} {
			msg := toolstest.Err(t, c, tc.tool, tc.args)
			for _, w := range tc.want {
				if !strings.Contains(msg, w) {
					t.Errorf("%s %v: %q lacks %q", tc.tool, tc.args, msg, w)
				}
			}
		}
	})

	t.Run("polkit", func(t *testing.T) {
		// The toolset in a process inside the bed, as nobody: PackageKit
		// asks polkit, which allows root whatever the rules say.
		h := startPKHelper(t, bed)
		bed.SetPolkitRule(t, "")
		msg := h.call(t, "install_package", map[string]any{"name": testOther})
		for _, want := range []string{"not-authorized", "polkit did not authorize uid 65534", actionRefresh, "tailops polkit-rule", PolkitRuleFile} {
			if !strings.Contains(msg, want) {
				t.Errorf("without the rule: %q lacks %q", msg, want)
			}
		}
		if v := bed.version(t, testOther); v != "" {
			t.Errorf("refused, yet dpkg says %s is %q", testOther, v)
		}
		rule, err := PolkitRule("nobody")
		if err != nil {
			t.Fatal(err)
		}
		bed.SetPolkitRule(t, rule)
		if msg := h.call(t, "install_package", map[string]any{"name": testOther}); !strings.Contains(msg, `"version": "1.0"`) {
			t.Errorf("with the rule: %s", msg)
		}
		if v := bed.version(t, testOther); v != "1.0 installed" {
			t.Errorf("dpkg-query after the install as nobody: %q", v)
		}
	})

	t.Run("no_packagekit", func(t *testing.T) {
		// PackageKit stopped and no longer activatable: as on a host
		// without the package.
		if err := os.Remove(bed.Path("/usr/share/dbus-1/system-services/org.freedesktop.PackageKit.service")); err != nil {
			t.Fatal(err)
		}
		bed.Run(t, "systemctl", "stop", "packagekit.service")
		bed.Run(t, "busctl", "call", "org.freedesktop.DBus", "/org/freedesktop/DBus", "org.freedesktop.DBus", "ReloadConfig")
		for tool, args := range map[string]map[string]any{"install_package": {"name": testOther}, "upgrade_packages": nil} {
			msg := toolstest.Err(t, c, tool, args)
			for _, want := range []string{"PackageKit is not on the system bus", "apt install packagekit", "services.packagekit.enable"} {
				if !strings.Contains(msg, want) {
					t.Errorf("%s without PackageKit: %q lacks %q", tool, msg, want)
				}
			}
		}
	})
}

// pkHelper is this test binary running in the bed as nobody, calling the
// tools on request (TestPackageKitHelper).
type pkHelper struct{ *systemdtest.Helper }

// startPKHelper starts the helper in the bed as nobody.
func startPKHelper(t *testing.T, bed *pkBed) *pkHelper {
	t.Helper()
	bin := bed.InstallSelf(t, "packages.test")
	return &pkHelper{systemdtest.StartHelper(t, bed.CommandAs(t.Context(), 65534, 65534, "/usr/bin/env", "-i",
		"TAILOPS_PACKAGEKIT_HELPER=1", bin, "-test.run=^TestPackageKitHelper$"))}
}

// call asks the helper to call tool with args and returns the result's
// text (a tool error's message, or the JSON result).
func (h *pkHelper) call(t *testing.T, tool string, args map[string]any) string {
	t.Helper()
	a, _ := json.Marshal(args)
	var s string
	json.Unmarshal([]byte(h.Ask(t, tool+" "+string(a))), &s)
	return s
}

// TestPackageKitHelper is the helper's body when the test binary runs in
// the bed (TAILOPS_PACKAGEKIT_HELPER is set); it does nothing otherwise.
// It reads "tool {args}" lines and answers each with the result's text
// as a JSON string.
func TestPackageKitHelper(t *testing.T) {
	if os.Getenv("TAILOPS_PACKAGEKIT_HELPER") == "" {
		return
	}
	ts, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	h := toolstest.Direct(ts.Tools())
	sc := bufio.NewScanner(os.Stdin)
	for sc.Scan() {
		tool, a, _ := strings.Cut(sc.Text(), " ")
		var args map[string]any
		json.Unmarshal([]byte(a), &args)
		b, _ := json.Marshal(toolstest.Text(toolstest.Call(t, h, tool, args)))
		fmt.Printf("%s\n", b)
	}
}
