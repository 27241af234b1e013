// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/docker/cli/cli/command"
	"github.com/docker/cli/cli/config/configfile"
	"github.com/docker/cli/cli/context/docker"
	"github.com/docker/cli/cli/context/store"
	"github.com/docker/cli/cli/streams"
	"github.com/docker/compose/v5/pkg/api"
	"github.com/docker/compose/v5/pkg/compose"
	"github.com/moby/moby/client"
	"go.opentelemetry.io/otel/metric"
	metricnoop "go.opentelemetry.io/otel/metric/noop"
	"go.opentelemetry.io/otel/sdk/resource"
	"go.opentelemetry.io/otel/trace"
	tracenoop "go.opentelemetry.io/otel/trace/noop"

	"github.com/tailops/tailops/tools"
)

// engine holds the Engine API client and compose over it, both created
// on first use: the client dials per request, so it survives the daemon
// being down at start.
type engine struct {
	host string // unix:///path

	mu  sync.Mutex
	cli *client.Client
}

// client returns the Engine API client, creating it on first use. It
// reads no environment: the endpoint is the configured one.
func (e *engine) client() (*client.Client, error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.cli != nil {
		return e.cli, nil
	}
	cli, err := client.New(client.WithHost(e.host))
	if err != nil {
		return nil, fmt.Errorf("configuring the Docker client for %s: %w", e.host, err)
	}
	e.cli = cli
	return cli, nil
}

// compose returns compose's service over the client, reporting its
// events to ctx's progress reporter. Its CLI reads no configuration file
// (~/.docker) and no environment.
func (e *engine) compose(ctx context.Context) (api.Compose, error) {
	cli, err := e.client()
	if err != nil {
		return nil, err
	}
	return compose.NewComposeService(newCLI(cli),
		compose.WithStreams(io.Discard, io.Discard, strings.NewReader("")),
		compose.WithPrompt(func(string, bool) (bool, error) { return false, nil }),
		compose.WithEventProcessor(&progressEvents{p: tools.ProgressFrom(ctx)}),
	)
}

// progressEvents turns compose's events into the call's progress
// reports: one step per event finished.
type progressEvents struct {
	p    *tools.Progress
	done atomic.Int64
}

func (pe *progressEvents) Start(context.Context, string) { pe.p.Stage() }

func (pe *progressEvents) On(events ...api.Resource) {
	for _, ev := range events {
		if ev.Status == api.Done || ev.Status == api.Error {
			n := pe.done.Add(1)
			pe.p.Report(float64(n), 0, ev.ID+": "+ev.Text, false)
		}
	}
}

// Done ends the operation's stage. Its flag is not read: compose v5.6.0
// passes err != nil where the interface says success; the tool's result
// says how the operation ended.
func (pe *progressEvents) Done(op string, _ bool) {
	pe.p.Report(float64(pe.done.Add(1)), 0, op+" finished", true)
}

// cli is the Docker CLI compose asks for its client, streams and
// configuration: here the configured client, discarded output, an empty
// in-memory configuration (no credential helpers, no contexts) and no
// telemetry.
type cli struct {
	api  client.APIClient
	in   *streams.In
	out  *streams.Out
	conf *configfile.ConfigFile
}

var _ command.Cli = (*cli)(nil)

func newCLI(c client.APIClient) *cli {
	return &cli{api: c, in: streams.NewIn(io.NopCloser(strings.NewReader(""))), out: streams.NewOut(io.Discard),
		conf: configfile.New("")}
}

func (c *cli) Client() client.APIClient             { return c.api }
func (c *cli) In() *streams.In                      { return c.in }
func (c *cli) Out() *streams.Out                    { return c.out }
func (c *cli) Err() *streams.Out                    { return c.out }
func (c *cli) SetIn(*streams.In)                    {}
func (c *cli) ConfigFile() *configfile.ConfigFile   { return c.conf }
func (c *cli) ServerInfo() command.ServerInfo       { return command.ServerInfo{OSType: "linux"} }
func (c *cli) CurrentVersion() string               { return c.api.ClientVersion() }
func (c *cli) BuildKitEnabled() (bool, error)       { return false, nil }
func (c *cli) ContextStore() store.Store            { return nil }
func (c *cli) CurrentContext() string               { return "default" }
func (c *cli) DockerEndpoint() docker.Endpoint      { return docker.Endpoint{} }
func (c *cli) Resource() *resource.Resource         { return resource.Empty() }
func (c *cli) TracerProvider() trace.TracerProvider { return tracenoop.NewTracerProvider() }
func (c *cli) MeterProvider() metric.MeterProvider  { return metricnoop.NewMeterProvider() }
