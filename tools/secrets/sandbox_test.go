// SPDX-License-Identifier: Apache-2.0

package secrets

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/tools"
	"github.com/tailops/tailops/toolstest"
)

// scanSandboxEnv marks the child that runs scan_secrets under the
// sandbox, and holds the root it scans.
const scanSandboxEnv = "TAILOPS_SCAN_SANDBOX_ROOT"

// TestScanSecretsUnderSandbox applies the sandbox TailOps computes for
// scan_secrets (Landlock and seccomp, enforced) in a child process and
// scans the planted root under it: its needs, read access to the roots,
// are enough, and the links out of the root stay unread.
func TestScanSecretsUnderSandbox(t *testing.T) {
	if root := os.Getenv(scanSandboxEnv); root != "" {
		scanSandboxChild(t, root)
		return
	}
	t.Parallel()
	toolstest.RunSandboxed(t, "TestScanSecretsUnderSandbox", scanSandboxEnv, plant(t))
}

func scanSandboxChild(t *testing.T, root string) {
	ts, err := New(Config{Roots: []string{root}, Denied: denyDir})
	if err != nil {
		t.Fatal(err)
	}
	spec := ts.Tools()[0]
	toolstest.ApplySandbox(t, []tools.Spec{spec})
	res, err := spec.Handler(context.Background(), mcp.CallToolRequest{Params: mcp.CallToolParams{Name: "scan_secrets"}})
	if err != nil || res.IsError {
		t.Fatalf("scan_secrets under the sandbox: %v %+v", err, res.Content)
	}
	b, _ := json.Marshal(res.StructuredContent)
	var r ScanResult
	json.Unmarshal(b, &r)
	if len(r.Findings) != 4 || r.FilesScanned != 6 || r.Denied != 1 {
		t.Errorf("under the sandbox: %d findings (want 4), %d files (want 6), %d denied (want 1)", len(r.Findings), r.FilesScanned, r.Denied)
	}
}
