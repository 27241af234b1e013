// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tailops/tailops/toolstest"
)

// hostFilesDir returns a directory outside the stack roots holding what a
// stack must not read: host.env (a secret) and inc.yaml (a compose file
// with a marker), as the host's or another stack's.
func hostFilesDir(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	toolstest.WriteFile(t, filepath.Join(dir, "host.env"), "HOSTSECRET=topsecret\n")
	toolstest.WriteFile(t, filepath.Join(dir, "inc.yaml"), "services:\n  inc:\n    image: local/busybox:latest\n    environment: [LEAK=outside-compose]\n")
	return dir
}

// TestIncludeAndExtendsStayInStack: an include or extends that leads out
// of the stack's directory is refused before the loader reads it, the
// way compose-go resolves it: in any YAML document of the file, through
// a file too large to check, from an include's project_directory, an
// included directory's .env. A relative path in an included file's
// include, which compose-go resolves from this process's working
// directory, is refused too.
func TestIncludeAndExtendsStayInStack(t *testing.T) {
	t.Parallel()
	root, outside := t.TempDir(), hostFilesDir(t)
	hostEnv, hostInc := filepath.Join(outside, "host.env"), filepath.Join(outside, "inc.yaml")
	writeStack(t, root, "victim", "services:\n  db:\n    image: local/busybox:latest\n    environment: [DB_PASSWORD=victim-literal]\n", "")
	const svc = "services:\n  app:\n    image: local/busybox:latest\n"
	const stolen = "services:\n  inc:\n    image: local/busybox:latest\n    environment: ['STOLEN=${HOSTSECRET}']\n"
	big := "# " + strings.Repeat("x", maxComposeFile) + "\n"
	for i, tc := range []struct {
		name, compose string
		files, links  map[string]string // in the stack's directory; {deep} and {up} are replaced
		service, key  string
	}{
		{name: "include in a second document",
			compose: svc + "---\ninclude:\n  - path: inc.yaml\n    env_file: " + hostEnv + "\n",
			files:   map[string]string{"inc.yaml": stolen}, service: "project", key: "include"},
		{name: "extends in a second document",
			compose: svc + "---\nservices:\n  app:\n    extends:\n      file: " + hostInc + "\n      service: inc\n",
			service: "service app", key: "extends"},
		{name: "an included file over 1 MiB",
			compose: "include: [big.yaml]\n" + svc,
			files:   map[string]string{"big.yaml": big + "include:\n  - path: inc2.yaml\n    env_file: " + hostEnv + "\nservices: {}\n", "inc2.yaml": stolen},
			service: "project", key: "include"},
		{name: "an extended file over 1 MiB",
			compose: "services:\n  app:\n    extends: {file: big.yaml, service: inc}\n",
			files:   map[string]string{"big.yaml": big + "services:\n  inc:\n    extends: {file: " + hostInc + ", service: inc}\n"},
			service: "service app", key: "extends"},
		// project_directory: . makes the stack's directory where the
		// included file's paths resolve, not the file's own {deep} one.
		{name: "a nested include resolved from project_directory",
			compose: "include:\n  - path: {deep}inc.yaml\n    project_directory: .\n" + svc,
			files:   map[string]string{"{deep}inc.yaml": "include:\n  - {up}" + hostInc[1:] + "\nservices: {}\n"},
			service: "project", key: "include"},
		{name: "a sibling stack through project_directory",
			compose: "include:\n  - path: a/inc.yaml\n    project_directory: .\n" + svc,
			files:   map[string]string{"a/inc.yaml": "include:\n  - ../victim/compose.yaml\nservices: {}\n"},
			service: "project", key: "include"},
		{name: "extends in an included file resolved from project_directory",
			compose: "include:\n  - path: a/inc.yaml\n    project_directory: .\n" + svc,
			files:   map[string]string{"a/inc.yaml": "services:\n  inc:\n    extends: {file: ../victim/compose.yaml, service: db}\n"},
			service: "service inc", key: "extends"},
		{name: "a relative env_file in a nested include",
			compose: "include: [a/inc.yaml]\n" + svc,
			files:   map[string]string{"a/inc.yaml": "include:\n  - path: b.yaml\n    env_file: x.env\nservices: {}\n", "a/b.yaml": "services: {}\n", "a/x.env": "X=1\n"},
			service: "project", key: "include"},
		{name: "a relative project_directory in a nested include",
			compose: "include: [a/inc.yaml]\n" + svc,
			files:   map[string]string{"a/inc.yaml": "include:\n  - path: b.yaml\n    project_directory: .\nservices: {}\n", "a/b.yaml": "services:\n  b:\n    image: local/busybox:latest\n"},
			service: "project", key: "include"},
		{name: "an included directory's .env linking outside",
			compose: "include: [a/inc.yaml]\n" + svc,
			files:   map[string]string{"a/inc.yaml": stolen}, links: map[string]string{"a/.env": hostEnv},
			service: "project", key: "include"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			name := fmt.Sprintf("s%d", i)
			dir := filepath.Join(root, name)
			n := strings.Count(dir, "/")
			r := strings.NewReplacer("{deep}", strings.Repeat("d/", n), "{up}", strings.Repeat("../", n))
			writeStack(t, root, name, r.Replace(tc.compose), "")
			for f, content := range tc.files {
				toolstest.WriteFile(t, filepath.Join(dir, r.Replace(f)), r.Replace(content))
			}
			for f, target := range tc.links {
				if err := os.Symlink(target, filepath.Join(dir, f)); err != nil {
					t.Fatal(err)
				}
			}
			ts, err := New(Config{StackRoots: []string{root}})
			if err != nil {
				t.Fatal(err)
			}
			_, p, err := ts.prepare(context.Background(), name, nil)
			var pe *PolicyError
			if !errors.As(err, &pe) || pe.Service != tc.service || pe.Key != tc.key {
				var got []byte
				if p != nil {
					got, _ = p.MarshalYAML()
				}
				t.Fatalf("got %v, want a refusal of %s's %s; configuration:\n%s", err, tc.service, tc.key, got)
			}
			if strings.Contains(err.Error(), "topsecret") {
				t.Errorf("the error shows the host file's content: %v", err)
			}
		})
	}
}

// TestIncludeAndExtendsInStackAllowed: includes and extends that stay in
// the stack's directory load, in any document, resolved as compose-go
// resolves them (from the include's project_directory), with the
// included directory's .env.
func TestIncludeAndExtendsInStackAllowed(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	dir := writeStack(t, root, "ok", "services:\n  app:\n    image: local/busybox:latest\n---\ninclude:\n  - path: a/inc.yaml\n    project_directory: a\n", "")
	toolstest.WriteFile(t, filepath.Join(dir, "a/inc.yaml"), "include: [b/b.yaml]\nservices:\n  inc:\n    extends: {file: base.yaml, service: base}\n")
	toolstest.WriteFile(t, filepath.Join(dir, "a/base.yaml"), "services:\n  base:\n    image: local/busybox:${TAG}\n")
	toolstest.WriteFile(t, filepath.Join(dir, "a/.env"), "TAG=1.0\n")
	toolstest.WriteFile(t, filepath.Join(dir, "a/b/b.yaml"), "services:\n  b:\n    image: local/busybox:latest\n")
	ts, err := New(Config{StackRoots: []string{root}})
	if err != nil {
		t.Fatal(err)
	}
	_, p, err := ts.prepare(context.Background(), "ok", nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(p.ServiceNames(), ","); got != "app,b,inc" {
		t.Errorf("services %s, want app,b,inc", got)
	}
	if img := p.Services["inc"].Image; img != "local/busybox:1.0" {
		t.Errorf("inc's image %q: the included directory's .env was not used", img)
	}
}

// TestDotEnvMustBeStackFile: the stack's .env is read only as a regular
// file in the stack's directory: not through a symbolic link (to another
// stack's .env), nor through a directory that links elsewhere.
func TestDotEnvMustBeStackFile(t *testing.T) {
	t.Parallel()
	outside := hostFilesDir(t)
	const compose = "services:\n  app:\n    image: local/busybox:latest\n    environment: ['STOLEN=${HOSTSECRET:-none}']\n"
	for _, tc := range []struct {
		name  string
		setup func(root string) loadInput
	}{
		{".env linking outside", func(root string) loadInput {
			dir := writeStack(t, root, "app", compose, "")
			if err := os.Symlink(filepath.Join(outside, "host.env"), filepath.Join(dir, ".env")); err != nil {
				t.Fatal(err)
			}
			return loadInput{name: "app", dir: dir, file: filepath.Join(dir, "compose.yaml")}
		}},
		{".env linking in the stack", func(root string) loadInput {
			dir := writeStack(t, root, "app", compose, "")
			toolstest.WriteFile(t, filepath.Join(dir, "real.env"), "HOSTSECRET=topsecret\n")
			if err := os.Symlink("real.env", filepath.Join(dir, ".env")); err != nil {
				t.Fatal(err)
			}
			return loadInput{name: "app", dir: dir, file: filepath.Join(dir, "compose.yaml")}
		}},
		// A git stack's compose file in a subdirectory of its checkout.
		{"subdirectory linking outside", func(root string) loadInput {
			elsewhere := t.TempDir()
			toolstest.WriteFile(t, filepath.Join(elsewhere, "compose.yaml"), compose)
			toolstest.WriteFile(t, filepath.Join(elsewhere, ".env"), "HOSTSECRET=topsecret\n")
			if err := os.Symlink(elsewhere, filepath.Join(root, "deploy")); err != nil {
				t.Fatal(err)
			}
			dir := filepath.Join(root, "deploy")
			return loadInput{name: "app", dir: dir, file: filepath.Join(dir, "compose.yaml"), root: root}
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, err := load(context.Background(), tc.setup(t.TempDir()))
			if err == nil || !strings.Contains(err.Error(), "the stack's .env") {
				var got []byte
				if p != nil {
					got, _ = p.MarshalYAML()
				}
				t.Fatalf("got %v, want the .env refused; configuration:\n%s", err, got)
			}
			if strings.Contains(err.Error(), "topsecret") {
				t.Errorf("the error shows the file's content: %v", err)
			}
		})
	}
}

// TestDeploymentReloadReadsNoFile: a deployment's configuration, kept in
// the history, is loaded again as it was deployed (for a rollback, an
// update's diff): the env and label files it still names are not read
// again, so what they hold now, or a file they were swapped for, does
// not enter it.
func TestDeploymentReloadReadsNoFile(t *testing.T) {
	host := hostFilesDir(t)
	dir := t.TempDir()
	cfg := fmt.Sprintf("name: web\nservices:\n  app:\n    image: local/busybox:latest\n    environment:\n      KEPT: as-deployed\n"+
		"    env_file: [%s]\n    label_file: [%s]\n", filepath.Join(host, "host.env"), filepath.Join(host, "host.env"))
	p, err := loadDeployment(context.Background(), diskStack{name: "web", dir: dir, file: filepath.Join(dir, "compose.yaml")},
		Deployment{ID: "d1", Config: cfg, WorkingDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	app := p.Services["app"]
	if v := app.Environment["KEPT"]; v == nil || *v != "as-deployed" {
		t.Errorf("the deployed environment was not kept: %v", app.Environment)
	}
	if _, ok := app.Environment["HOSTSECRET"]; ok || app.Labels["HOSTSECRET"] != "" {
		t.Errorf("an env or label file was read again: environment %v, labels %v", app.Environment, app.Labels)
	}
}
