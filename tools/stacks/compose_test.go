// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"context"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/toolstest"
)

// readResource reads uri as c; the text of its first content.
func readResource(c *toolstest.Client, uri string) (string, error) {
	r := mcp.ReadResourceRequest{}
	r.Params.URI = uri
	res, err := c.ReadResource(context.Background(), r)
	if err != nil {
		return "", err
	}
	if len(res.Contents) == 0 {
		return "", nil
	}
	return res.Contents[0].(mcp.TextResourceContents).Text, nil
}

// TestStackComposeResource: tailops://stacks/{name}/compose (and
// get_stack_compose) serve a stack's resolved configuration through a
// real server and client, redacted as deploy_stack's plan is — a secret
// variable interpolated under a harmless key (a label) included, for a
// stack root's stack resolved now and for a git stack's configuration
// loaded back from the history; a policy the stack fails is reported,
// not hidden. Only a caller holding container:read sees the template,
// completes {name} with the stacks' names and reads it; every read is
// in the audit log, which never holds the secret.
func TestStackComposeResource(t *testing.T) {
	r := newGitStackRepo(t)
	r.pushCompose(t, secretCompose("1"))
	k := newStacksLabGit(t, true, r.gitConfig())
	k.tagGitImage(t)
	const gitName = "composegit"
	k.cleanup(t, gitName)
	toolstest.OK[DeployResult](t, k.c, "deploy_stack", map[string]any{"name": gitName, "repo": r.url, "ref": "main",
		"path": "deploy/compose.yaml", "env": map[string]any{"DB_PASSWORD": secretValue}})
	writeStack(t, k.root, "composeroot", "services:\n  app:\n    image: local/busybox:latest\n    command: [sh, -c, 'login ${API_TOKEN}']\n"+
		"    environment:\n      - API_TOKEN=${API_TOKEN}\n    labels:\n      note: \"pw ${DB_PASSWORD}\"\n",
		"DB_PASSWORD="+secretValue+"\nAPI_TOKEN=tok-"+secretValue+"\n")
	writeStack(t, k.root, "composepriv", "services:\n  app:\n    image: local/busybox:latest\n    privileged: true\n", "")

	reader := k.srv.Client(t, auth.ScopeContainerRead)
	for _, tc := range []struct {
		name string
		want []string // in the text
	}{
		{"composeroot", []string{"# stack composeroot (stack_root: " + k.root, "policy: ok", "note: pw [REDACTED]", "API_TOKEN: '[REDACTED]'", "login [REDACTED]"}},
		{gitName, []string{"# stack composegit (git: ", "# repo " + r.url, "policy: ok", "note: pw [REDACTED]", "DB_PASSWORD: '[REDACTED]'"}},
		{"composepriv", []string{"policy: refused: service app: privileged", "privileged: true"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			text, err := readResource(reader, "tailops://stacks/"+tc.name+"/compose")
			if err != nil {
				t.Fatal(err)
			}
			checkNoSecret(t, "the compose resource", []byte(text))
			for _, w := range tc.want {
				if !strings.Contains(text, w) {
					t.Errorf("the resource lacks %q:\n%s", w, text)
				}
			}
			out := toolstest.OK[StackCompose](t, reader, "get_stack_compose", map[string]any{"name": tc.name})
			if !strings.Contains(text, out.Config) || len(out.ConfigHash) != 64 || !strings.Contains(text, out.ConfigHash) {
				t.Errorf("get_stack_compose %+v does not serve what the resource does:\n%s", out, text)
			}
		})
	}
	for _, name := range []string{"nosuchstack", "Bad..name"} {
		if _, err := readResource(reader, "tailops://stacks/"+name+"/compose"); err == nil {
			t.Errorf("read the compose of %q", name)
		}
	}

	// completion/complete of {name}: the stacks' names, for container:read.
	complete := func(c *toolstest.Client, prefix string) ([]string, error) {
		req := mcp.CompleteRequest{}
		req.Params.Ref = mcp.ResourceReference{Type: "ref/resource", URI: "tailops://stacks/{name}/compose"}
		req.Params.Argument = mcp.CompleteArgument{Name: "name", Value: prefix}
		res, err := c.Complete(context.Background(), req)
		if err != nil {
			return nil, err
		}
		return res.Completion.Values, nil
	}
	if got, err := complete(reader, "compose"); err != nil || !slices.Equal(got, []string{gitName, "composepriv", "composeroot"}) {
		t.Errorf("completing {name}: %v, %v", got, err)
	}

	// Without container:read: not listed, not completed, not read.
	outsider := k.srv.Client(t, auth.ScopeSystemRead)
	ts, err := outsider.ListResourceTemplates(context.Background(), mcp.ListResourceTemplatesRequest{})
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range ts.ResourceTemplates {
		if strings.HasPrefix(x.URITemplate.Raw(), "tailops://stacks/") {
			t.Errorf("a caller without container:read lists %s", x.URITemplate.Raw())
		}
	}
	if got, err := complete(outsider, "compose"); err == nil {
		t.Errorf("a caller without container:read completed %v", got)
	}
	if text, err := readResource(outsider, "tailops://stacks/composeroot/compose"); err == nil || !strings.Contains(err.Error(), "insufficient_scope") {
		t.Errorf("a caller without container:read read %q, %v; want 403 insufficient_scope", text, err)
	}
	ts, err = reader.ListResourceTemplates(context.Background(), mcp.ListResourceTemplatesRequest{})
	if err != nil || !slices.ContainsFunc(ts.ResourceTemplates, func(x mcp.ResourceTemplate) bool { return x.URITemplate.Raw() == "tailops://stacks/{name}/compose" }) {
		t.Errorf("container:read does not list the compose template: %v", err)
	}

	// The audit log: every read, allowed or refused, and the completions;
	// never the secret.
	results := map[string][]string{}
	for _, rec := range k.srv.Records(t) {
		switch rec["event"] {
		case string(audit.EventResourceRead):
			u, _ := rec["resource"].(string)
			results[u] = append(results[u], rec["result"].(string))
		case string(audit.EventCompletion):
			results["complete "+rec["resource"].(string)] = append(results["complete "+rec["resource"].(string)], rec["result"].(string))
		}
	}
	for uri, want := range map[string][]string{
		"tailops://stacks/composeroot/compose":     {"success", "denied"},
		"tailops://stacks/composegit/compose":      {"success"},
		"tailops://stacks/composepriv/compose":     {"success"},
		"tailops://stacks/nosuchstack/compose":     {"error"},
		"tailops://stacks/Bad..name/compose":       {"error"}, // the tool refuses the name
		"complete tailops://stacks/{name}/compose": {"success", "denied"},
	} {
		if !slices.Equal(results[uri], want) {
			t.Errorf("audit records of %s: %v, want %v", uri, results[uri], want)
		}
	}
	b, err := os.ReadFile(k.srv.AuditLog)
	if err != nil {
		t.Fatal(err)
	}
	checkNoSecret(t, "the audit log", b)
}
