// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"context"
	"fmt"

	"github.com/tailops/tailops/tools"
)

// resultInterrupted is the history's result of a change the server
// cancelled to shut down before compose finished it.
const resultInterrupted = "interrupted"

// leftAsIs is the state a deploy cut short leaves a stack in.
const leftAsIs = "the stack's containers are as compose left them (get_stack_status shows them)"

// failure is the history's result and the error of a change that
// failed with err: "interrupted", and an error that says so and that the
// stack was left as left says, when the server cancelled it to shut
// down; else "failed" and err.
func failure(ctx context.Context, action, left string, err error) (string, error) {
	if serr := tools.ShutdownErr(ctx); serr != nil {
		return resultInterrupted, fmt.Errorf("%w: the %s was cancelled before compose finished it; %s: %w", serr, action, left, err)
	}
	return "failed", err
}

// cleanupContext is the context in which a change cut short by ctx's
// cancellation (a server shutting down, or a caller gone) still puts the
// stack back as it was: ctx itself while it runs, else a context that
// is not cancelled with it but ends after tools.CleanupTimeout, which
// the server's shutdown grace covers along with the history's record.
func cleanupContext(ctx context.Context) (context.Context, context.CancelFunc) {
	if ctx.Err() == nil {
		return ctx, func() {}
	}
	return context.WithTimeout(context.WithoutCancel(ctx), tools.CleanupTimeout)
}
