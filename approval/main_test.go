// SPDX-License-Identifier: Apache-2.0

package approval_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/tailops/tailops/approval"
)

// childSocketEnv, when set, makes the test binary a socket client: it
// lists requests through the socket at its value and exits 0 on success,
// 3 with the error on stderr otherwise. TestSocketRefusesOtherUsers runs
// it as another uid.
const childSocketEnv = "TAILOPS_APPROVAL_TEST_CHILD_SOCKET"

func TestMain(m *testing.M) {
	if path := os.Getenv(childSocketEnv); path != "" {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if _, err := approval.NewClient(path).List(ctx, true); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(3)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}
