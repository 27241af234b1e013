// SPDX-License-Identifier: Apache-2.0

package docker

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/labtest"
	"github.com/tailops/tailops/redact"
	rt "github.com/tailops/tailops/redact/redacttest"
	"github.com/tailops/tailops/toolstest"
)

// redactionCase is a setting's name and value, what every use must show
// of the value, and the part of it nothing may show ("" when all of it
// may be shown).
type redactionCase struct {
	name, value, want, hidden string
}

// redactionCases drive the audit log and the Docker tools at once, so
// that what one hides the other cannot show.
var redactionCases = []redactionCase{
	// Names the audit log always hid and inspect_container showed.
	{"STRIPE_KEY", "stripe-test-value-1", redact.Redacted, "stripe-test-value-1"},
	{"SSH_KEY", rt.PEMBlock, redact.Redacted, rt.PEMBody},
	{"DB_PWD", "hunter2-pwd", redact.Redacted, "hunter2-pwd"},
	{"SESSION_COOKIE", "s%3Acookie-value", redact.Redacted, "cookie-value"},
	{"LICENSE_KEY", "AAAA-BBBB-CCCC-DDDD", redact.Redacted, "AAAA-BBBB-CCCC-DDDD"},
	// The whole value of a secret name, spaces and all.
	{"DB_PASSWORD", "with spaces; and=equals", redact.Redacted, "spaces; and=equals"},
	{"use_auth", "true", redact.Redacted, ""},
	// Token shapes under harmless names.
	{"GITHUB", rt.GHP, redact.Redacted, rt.GHP},
	{"PAYMENTS", rt.Stripe, redact.Redacted, rt.Stripe},
	{"UPSTREAM_ID", rt.Random32, redact.Redacted, rt.Random32},
	{"DATABASE_URL", "postgres://app:s3cret-url@db/app", "postgres://app:" + redact.Redacted + "@db/app", "s3cret-url"},
	{"NOTE", "send Bearer bearer-in-note to it", "send Bearer " + redact.Redacted + " to it", "bearer-in-note"},
	// Kept.
	{"TZ", "Europe/Berlin", "Europe/Berlin", ""},
	{"IMAGE_REVISION", "e7c5a6b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6", "e7c5a6b0c1d2e3f4a5b6c7d8e9f0a1b2c3d4e5f6", ""},
	{"APP_NAME", "MyService_Production_2024", "MyService_Production_2024", ""},
	{"KEYWORDS", "kernel panic", "kernel panic", ""},
}

// TestRedactionIsOneRuleSet drives the audit log and the Docker tools
// with one table: each name and value is written in an audit record and
// read back, and set as a container's environment variable, label and
// --NAME=VALUE argument (one container per case), which inspect_container
// and list_containers show. Each use must show exactly the table's
// answer, and the hidden part must be nowhere: not in the log file, not
// in either result (list_containers' command line included).
func TestRedactionIsOneRuleSet(t *testing.T) {
	// The audit log.
	path := filepath.Join(t.TempDir(), "audit.log")
	alog, err := audit.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer alog.Close()
	args := map[string]any{}
	for _, c := range redactionCases {
		args[c.name] = c.value
	}
	if err := alog.Write(context.Background(), &audit.Record{Event: "tool_call", Tool: "test", Arguments: args}); err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rec audit.Record
	if err := json.Unmarshal(raw, &rec); err != nil {
		t.Fatalf("%v: %s", err, raw)
	}
	logged, _ := rec.Arguments.(map[string]any)

	// The Docker tools, on one container per case, created, not run.
	k := newDockerLab(t)
	prefix := fmt.Sprintf("redact-%d-", os.Getpid())
	for i, c := range redactionCases {
		kv := c.name + "=" + c.value
		k.create(t, "--name", fmt.Sprint(prefix, i), "-e", kv, "--label", kv, busyboxRef, "/bin/true", "--"+kv, "next")
	}
	l := toolstest.OK[ContainerList](t, k.h, "list_containers", map[string]any{"name": prefix, "all": true})
	listed := map[string]ContainerSummary{}
	for _, c := range l.Containers {
		listed[c.Name] = c
	}
	for i, c := range redactionCases {
		t.Run(c.name, func(t *testing.T) {
			name := fmt.Sprint(prefix, i)
			d := toolstest.OK[ContainerDetails](t, k.h, "inspect_container", map[string]any{"container": name})
			summary, ok := listed[name]
			if !ok {
				t.Fatalf("list_containers does not list %s: %v", name, containerNames(l))
			}
			if got := logged[c.name]; got != c.want {
				t.Errorf("audit log: %q, want %q", got, c.want)
			}
			if want := c.name + "=" + c.want; !slices.Contains(d.Env, want) {
				t.Errorf("inspect_container env has no %q: %q", want, d.Env)
			}
			if got := d.Labels[c.name]; got != c.want {
				t.Errorf("inspect_container label: %q, want %q", got, c.want)
			}
			if want := []string{"/bin/true", "--" + c.name + "=" + c.want, "next"}; !slices.Equal(d.Cmd, want) {
				t.Errorf("inspect_container cmd: %q, want %q", d.Cmd, want)
			}
			if got := summary.Labels[c.name]; got != c.want {
				t.Errorf("list_containers label: %q, want %q", got, c.want)
			}
			if c.hidden == "" {
				return
			}
			for what, v := range map[string]any{"the audit log": string(raw), "inspect_container": d, "list_containers": summary} {
				b, _ := json.Marshal(v)
				if strings.Contains(string(b), c.hidden) || strings.Contains(string(b), jsonEscaped(c.hidden)) {
					t.Errorf("%s shows %q: %s", what, c.hidden, b)
				}
			}
		})
	}
}

// TestDockerToolErrorsAreRedacted: a tool error that quotes a container's
// output (update_container's rollback, with the failed container's last
// lines) and the tools' log show no secret from it.
func TestDockerToolErrorsAreRedacted(t *testing.T) {
	k := newDockerLab(t)
	name := fmt.Sprintf("redact-err-%d", os.Getpid())
	ref := "local/" + name + ":latest"
	k.d.Image(t, labtest.ImageSpec{Name: ref, Busybox: true, Files: map[string]string{"/etc/ok": "ok"}, Changes: []string{`CMD ["/bin/sh"]`}})
	// Without /etc/ok the new container prints its secrets and exits.
	script := `test -f /etc/ok && exec sleep 100000; echo "connecting with DB_PASSWORD=$DB_PASSWORD"; ` +
		`echo "Authorization: Bearer $BEARER"; echo "key $UPSTREAM"; exit 1`
	old := k.d.Run(t, "--name", name, "--init", "-e", "DB_PASSWORD=errpw-4711", "-e", "BEARER=errbearer-0815",
		"-e", "UPSTREAM="+rt.Random32, ref, "sh", "-c", script)
	t.Cleanup(func() { k.d.Remove(name + "-tailops-old-" + old[:12]) })
	k.d.Image(t, labtest.ImageSpec{Name: ref, Busybox: true, Changes: []string{`CMD ["/bin/sh"]`}})

	msg := toolstest.Err(t, k.h, "update_container", map[string]any{"container": name, "pull": false, "timeout": 10})
	if !strings.Contains(msg, "the new container exited with code 1") || !strings.Contains(msg, "its last output: ") ||
		!strings.Contains(msg, "DB_PASSWORD="+redact.Redacted) {
		t.Errorf("error %q: want the exit, the redacted last output and the rollback", msg)
	}
	for _, secret := range []string{"errpw-4711", "errbearer-0815", rt.Random32} {
		if strings.Contains(msg, secret) {
			t.Errorf("tool error shows %q: %s", secret, msg)
		}
		if strings.Contains(k.logs.String(), secret) {
			t.Errorf("tools' log shows %q:\n%s", secret, k.logs)
		}
	}
}

// jsonEscaped is s as it appears inside a JSON string.
func jsonEscaped(s string) string {
	b, _ := json.Marshal(s)
	return string(b[1 : len(b)-1])
}
