// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/tailops/tailops/audit"
	"github.com/tailops/tailops/auth"
	"github.com/tailops/tailops/tools"
)

// maxHistory is how many deployments a stack's history keeps, newest last.
const maxHistory = 50

// Deployment is one entry of a stack's history: a deploy, update,
// rollback or removal, who asked, and how it ended.
type Deployment struct {
	ID     string `json:"id" jsonschema_description:"the deployment's id, for rollback_stack"`
	Time   string `json:"time" jsonschema_description:"RFC 3339 UTC, when it finished"`
	Action string `json:"action" jsonschema_description:"deploy, update, rollback or remove"`
	Caller string `json:"caller" jsonschema_description:"who asked: the tailnet login, else the token's agent"`
	Result string `json:"result" jsonschema_description:"ok, failed, rolled_back, or interrupted (the server stopped before compose finished)"`
	Error  string `json:"error,omitempty"`
	Source string `json:"source" jsonschema_description:"where the compose file came from: the stack root's path, or the git repository"`
	// Repo, Ref, Commit and RepoPath say where a git stack came from.
	Repo     string `json:"repo,omitempty" jsonschema_description:"for a git stack: the repository URL"`
	Ref      string `json:"ref,omitempty" jsonschema_description:"for a git stack: the ref asked for (empty: the remote's HEAD)"`
	Commit   string `json:"commit,omitempty" jsonschema_description:"for a git stack: the commit deployed"`
	RepoPath string `json:"repo_path,omitempty" jsonschema_description:"for a git stack: the compose file's path in the repository"`
	// ConfigHash is the SHA-256 of the resolved configuration.
	ConfigHash string `json:"config_hash,omitempty" jsonschema_description:"SHA-256 of the resolved compose configuration"`
	// Config is the resolved configuration as deployed, kept (in the
	// state directory, mode 0600) for rollback; never returned.
	Config string `json:"config,omitempty" jsonschema:"-"`
	// WorkingDir is the project's directory when it was deployed.
	WorkingDir string `json:"working_dir,omitempty"`
}

// public returns d without its configuration, for results.
func (d Deployment) public() Deployment {
	d.Config = ""
	return d
}

// history keeps the stacks' histories in dir, one file a stack
// (dir/NAME.json), each replaced atomically and fsync'd.
type history struct {
	dir string
	mu  sync.Mutex
}

// path is name's history file; name is valid (validName), so it stays in
// dir.
func (h *history) path(name string) string { return filepath.Join(h.dir, name+".json") }

// list returns name's deployments, oldest first (none: empty).
func (h *history) list(name string) ([]Deployment, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.read(name)
}

func (h *history) read(name string) ([]Deployment, error) {
	if h.dir == "" {
		return nil, nil
	}
	b, err := os.ReadFile(h.path(name))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the history of %s: %w", name, err)
	}
	var ds []Deployment
	if err := json.Unmarshal(b, &ds); err != nil {
		return nil, fmt.Errorf("reading the history of %s: %w", name, err)
	}
	return ds, nil
}

// EventDeployment is the audit record of a history entry: every deploy,
// update (rolled back or not), rollback and removal, whatever its result,
// is in the audit log as well as in the history (tools.Audit).
const EventDeployment audit.Event = "stack_deployment"

// add appends d to name's history, giving it an id and the time, and
// writes it to the audit log (EventDeployment); it returns d as written.
// Without a state directory nothing is kept but the audit record.
func (h *history) add(ctx context.Context, name string, d Deployment) (Deployment, error) {
	var id [6]byte
	rand.Read(id[:])
	d.ID = hex.EncodeToString(id[:])
	d.Time = time.Now().UTC().Format(time.RFC3339)
	d.Caller = callerName(auth.CallerFrom(ctx))
	herr := h.keep(name, d)
	if err := tools.Audit(ctx, deploymentRecord(name, d, herr)); err != nil {
		return d, errors.Join(herr, fmt.Errorf("auditing deployment %s of %s: %w", d.ID, name, err))
	}
	return d, herr
}

// deploymentRecord is the audit record of name's history entry d; herr
// is why the history could not keep it, if it could not.
func deploymentRecord(name string, d Deployment, herr error) *audit.Record {
	rec := &audit.Record{Event: EventDeployment, Decision: audit.DecisionAllowed, Result: audit.ResultSuccess,
		Detail: deploymentDetail{Stack: name, Deployment: d.public()}}
	if d.Result != "ok" {
		rec.Result, rec.Error = audit.ResultError, d.Error
	}
	if herr != nil {
		rec.Reason = "not kept in the history: " + herr.Error()
	}
	return rec
}

// deploymentDetail is the Detail of an EventDeployment record.
type deploymentDetail struct {
	Stack string `json:"stack"`
	Deployment
}

// keep appends d to name's history file.
func (h *history) keep(name string, d Deployment) error {
	if h.dir == "" {
		return nil
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	ds, err := h.read(name)
	if err != nil {
		return err
	}
	ds = append(ds, d)
	if len(ds) > maxHistory {
		ds = ds[len(ds)-maxHistory:]
	}
	b, err := json.MarshalIndent(ds, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(h.dir, 0o700); err != nil {
		return fmt.Errorf("creating the stacks' history directory: %w", err)
	}
	if err := writeFileAtomic(h.path(name), b); err != nil {
		return fmt.Errorf("writing the history of %s: %w", name, err)
	}
	return nil
}

// callerName is who a history entry says asked.
func callerName(c *auth.Caller) string {
	switch {
	case c == nil:
		return "unknown"
	case c.Tailscale != nil && c.Tailscale.LoginName != "":
		return c.Tailscale.LoginName
	default:
		return c.Agent
	}
}

// writeFileAtomic replaces path with data, mode 0600: a temporary file
// in the same directory, fsync'd, renamed over path, then the directory
// fsync'd, so a crash leaves the old file or the new one.
func writeFileAtomic(path string, data []byte) (err error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if _, err = tmp.Write(data); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
