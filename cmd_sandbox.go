// SPDX-License-Identifier: Apache-2.0

package main

import (
	"context"
	"io"
	"log/slog"

	"github.com/tailops/tailops/tools"
)

// confine applies the kernel sandbox; filled in with the sandbox package.
func confine(c *config, enabled []tools.Spec, ports []uint16, log *slog.Logger) (warning string, err error) {
	return "kernel sandbox not applied", nil
}

func runSandbox(ctx context.Context, check bool, args []string, stdout, stderr io.Writer) error {
	return nil
}
