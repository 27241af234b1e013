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

// failure is the history's result and the error of a change that
// failed with err: "interrupted", and an error that says so, when the
// server cancelled it to shut down; else "failed" and err.
func failure(ctx context.Context, action string, err error) (string, error) {
	if serr := tools.ShutdownErr(ctx); serr != nil {
		return resultInterrupted, fmt.Errorf("%w: the %s was cancelled before compose finished it; the stack's containers are as compose left them (get_stack_status shows them): %w", serr, action, err)
	}
	return "failed", err
}
