// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/docker/docker/api/types/container"
	"github.com/docker/docker/client"
	"github.com/mark3labs/mcp-go/mcp"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tailops/tailops/labtest"
)

// TestMain stops the Docker daemon the Docker tests share, if any of
// them started it.
func TestMain(m *testing.M) {
	m.Run()
	labtest.StopShared()
}

// busyboxRef is the local image most Docker tests run.
const busyboxRef = "local/busybox:latest"

var busyboxOnce sync.Once

// dockerKit is the Docker tools over the shared test daemon.
type dockerKit struct {
	d     *labtest.Dockerd
	cli   *client.Client
	e     *dockerEngine
	specs map[string]Spec
	logs  *bytes.Buffer // the tools' log, as JSON lines
}

func newDockerKit(t testing.TB) *dockerKit {
	t.Helper()
	d := labtest.Shared(t)
	busyboxOnce.Do(func() { d.BusyboxImage(t, busyboxRef) })
	return newDockerKitFor(t, d, d.Host)
}

// newDockerKitFor builds the tools against host (which may differ from
// d's, to test an unreachable daemon).
func newDockerKitFor(t testing.TB, d *labtest.Dockerd, host string) *dockerKit {
	t.Helper()
	logs := new(bytes.Buffer)
	deps := &Deps{DockerHost: host, Logger: slog.New(slog.NewJSONHandler(&lockedWriter{w: logs}, nil))}
	k := &dockerKit{d: d, specs: map[string]Spec{}, logs: logs}
	if d != nil {
		k.cli = d.Client()
	}
	k.e = newDockerEngine(deps)
	for _, s := range k.e.tools() {
		k.specs[s.Name()] = s
	}
	return k
}

type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// call runs a tool's handler directly, as the server would once the call
// is authorized (critical tools included: approval is the server's job).
func (k *dockerKit) call(t testing.TB, tool string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	return k.callCtx(t, context.Background(), tool, args)
}

func (k *dockerKit) callCtx(t testing.TB, ctx context.Context, tool string, args map[string]any) *mcp.CallToolResult {
	t.Helper()
	s, ok := k.specs[tool]
	if !ok {
		t.Fatalf("no tool %s", tool)
	}
	res, err := s.Handler(ctx, mcp.CallToolRequest{Params: mcp.CallToolParams{Name: tool, Arguments: args}})
	if err != nil {
		t.Fatalf("%s returned a Go error: %v", tool, err)
	}
	if res == nil {
		t.Fatalf("%s returned no result", tool)
	}
	return res
}

// dockerOK calls a Docker tool that must succeed and decodes its result.
func dockerOK[T any](t testing.TB, k *dockerKit, tool string, args map[string]any) T {
	t.Helper()
	return decodeOK[T](t, k.specs[tool], k.call(t, tool, args), args)
}

// dockerErr calls a Docker tool that must fail and returns the error text.
func dockerErr(t testing.TB, k *dockerKit, tool string, args map[string]any) string {
	t.Helper()
	return errorText(t, tool, k.call(t, tool, args), args)
}

func resultText(r *mcp.CallToolResult) string {
	for _, c := range r.Content {
		if tc, ok := c.(mcp.TextContent); ok {
			return tc.Text
		}
	}
	return ""
}

var schemaCache sync.Map // tool name → *jsonschema.Schema

func checkOutputSchema(t testing.TB, s Spec, doc []byte) {
	t.Helper()
	v, ok := schemaCache.Load(s.Name())
	if !ok {
		raw, err := json.Marshal(s.Tool.OutputSchema)
		if err != nil {
			t.Fatal(err)
		}
		sd, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			t.Fatal(err)
		}
		c := jsonschema.NewCompiler()
		url := "mem:///out/" + s.Name() + ".json"
		if err := c.AddResource(url, sd); err != nil {
			t.Fatal(err)
		}
		sch, err := c.Compile(url)
		if err != nil {
			t.Fatalf("compiling %s output schema: %v", s.Name(), err)
		}
		v, _ = schemaCache.LoadOrStore(s.Name(), sch)
	}
	inst, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.(*jsonschema.Schema).Validate(inst); err != nil {
		t.Fatalf("%s result does not match its output schema: %v\n%s", s.Name(), err, doc)
	}
}

// inspect returns a container's raw inspect data from the daemon.
func (k *dockerKit) inspect(t testing.TB, ref string) container.InspectResponse {
	t.Helper()
	c, err := k.cli.ContainerInspect(context.Background(), ref)
	if err != nil {
		t.Fatalf("inspecting %s: %v", ref, err)
	}
	return c
}

// waitFor polls cond until it holds or 20 s pass.
func waitFor(t testing.TB, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// names returns the names of a list result, in order.
func containerNames(l ContainerList) []string {
	var out []string
	for _, c := range l.Containers {
		out = append(out, c.Name)
	}
	return out
}

// onlyPrefixed keeps names starting with prefix: other tests' containers
// are not this test's business.
func onlyPrefixed(names []string, prefix string) []string {
	var out []string
	for _, n := range names {
		if strings.HasPrefix(n, prefix) {
			out = append(out, n)
		}
	}
	return out
}
