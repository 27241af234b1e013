// SPDX-License-Identifier: Apache-2.0

//go:build tailops_notsnet

package tailnet

import (
	"context"
	"log/slog"
	"net"
)

// TSNetBuilt reports whether this build has the tsnet mode: this one,
// built with -tags tailops_notsnet, has not (no Tailscale engine, no
// gVisor netstack in the binary; local mode works).
const TSNetBuilt = false

// tsServer stands in for tsnet.Server; no Node of this build has one.
type tsServer struct{}

func (*tsServer) ListenTLS(string, string) (net.Listener, error)         { return nil, errNoTSNet }
func (*tsServer) Listen(string, string) (net.Listener, error)            { return nil, errNoTSNet }
func (*tsServer) Close() error                                           { return nil }
func (*tsServer) Dial(context.Context, string, string) (net.Conn, error) { return nil, errNoTSNet }

func startTSNet(context.Context, NodeConfig, *slog.Logger) (*Node, error) { return nil, errNoTSNet }
