// SPDX-License-Identifier: Apache-2.0

package tools

import (
	"context"
	"errors"
	"time"
)

// ErrShuttingDown is why a call stopped when the server cancelled it to
// shut down.
var ErrShuttingDown = errors.New("the server is shutting down")

// CleanupTimeout bounds what a tool does after it was cancelled, such as
// update_container's rollback. A server shutting down gives the calls it
// cancelled this long, and a little more, to return.
const CleanupTimeout = 30 * time.Second

type shutdownKey struct{}

// WithShutdown returns ctx carrying stop, a channel the server closes when
// it cancels the calls still running at shutdown. Work that goes on when
// its caller goes away (update_container, once the old container is down)
// watches it, so it rolls back rather than being killed half-done.
func WithShutdown(ctx context.Context, stop <-chan struct{}) context.Context {
	return context.WithValue(ctx, shutdownKey{}, stop)
}

// ShutdownRequested returns the channel WithShutdown put in ctx, closed
// when the server cancels the calls still running to shut down; nil
// (never ready) when there is none.
func ShutdownRequested(ctx context.Context) <-chan struct{} {
	stop, _ := ctx.Value(shutdownKey{}).(<-chan struct{})
	return stop
}

// ShutdownErr returns ErrShuttingDown once the server has asked the calls
// still running to stop, else nil.
func ShutdownErr(ctx context.Context) error {
	select {
	case <-ShutdownRequested(ctx):
		return ErrShuttingDown
	default:
		return nil
	}
}
