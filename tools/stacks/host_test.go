// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"context"
	"strings"
	"testing"

	"github.com/tailops/tailops/toolstest"
)

// TestTCPDockerHostLeavesTheServerUp: a DOCKER_HOST the stacks tools
// cannot use (tcp, ssh) is not a configuration error that stops the
// server; the stacks tools need nothing from the sandbox and answer why.
func TestTCPDockerHostLeavesTheServerUp(t *testing.T) {
	t.Parallel()
	for _, host := range []string{"tcp://127.0.0.1:2375", "ssh://admin@docker.lan"} {
		ts, err := New(Config{Host: host})
		if err != nil {
			t.Fatalf("%s: New: %v, want the server to start", host, err)
		}
		for _, sp := range ts.Tools() {
			if len(sp.Needs.Sockets) != 0 {
				t.Errorf("%s: %s needs sockets %v", host, sp.Name(), sp.Needs.Sockets)
			}
		}
		k := toolstest.Direct(ts.Tools())
		msg := toolstest.ErrCtx(t, context.Background(), k, "list_stacks", nil)
		if !strings.Contains(msg, "only over a unix socket") {
			t.Errorf("%s: list_stacks: %q, want why", host, msg)
		}
	}
}
