// SPDX-License-Identifier: Apache-2.0

package toolstest

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/tailops/tailops/sandbox"
	"github.com/tailops/tailops/tools"
)

// RunSandboxed runs the test named name again, alone, in a child process
// of the test binary with the environment variable env set to value (for
// the child to find, and to know it is the child), and fails unless it
// passes. A test that applies the sandbox (ApplySandbox) runs in such a
// child: the sandbox cannot be lifted once applied. Whatever the child
// must not create under the sandbox (a t.TempDir it could not remove)
// the parent makes and passes in value.
func RunSandboxed(t *testing.T, name, env, value string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run", "^"+name+"$", "-test.v", "-test.count=1")
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "GOCOVERDIR=") {
			cmd.Env = append(cmd.Env, kv)
		}
	}
	cmd.Env = append(cmd.Env, env+"="+value)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: "+name) {
		t.Fatalf("%s under the sandbox failed: %v\n%s", name, err, out)
	}
}

// ApplySandbox computes the sandbox TailOps would apply for specs
// (Landlock and seccomp, enforced) and applies it to this process, for
// good: call it only in a RunSandboxed child.
func ApplySandbox(t testing.TB, specs []tools.Spec) {
	t.Helper()
	pol, err := sandbox.Compute(tools.Grants(specs), sandbox.Config{Mode: sandbox.ModeEnforce})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := sandbox.Apply(pol)
	if err != nil {
		t.Fatalf("applying the sandbox: %v", err)
	}
	if !rep.Landlock || !rep.Seccomp {
		t.Fatalf("sandbox not fully applied: %+v", rep)
	}
}
