// SPDX-License-Identifier: Apache-2.0

package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/mark3labs/mcp-go/mcp"
	mcpserver "github.com/mark3labs/mcp-go/server"

	"github.com/tailops/tailops/auth"
)

// MCP tasks (the Tasks extension): a client may run a call of a tool
// declared with tools.TypedSpec.Task as a task, get its id at once, and
// poll tasks/get and tasks/result (or cancel it with tasks/cancel) while
// the call runs. mcp-go runs the call, through the same middleware as
// any call, so the task passes the choke point (scope, approval, audit)
// like a direct call; cancelling it cancels the call's context, and the
// call's audit record says how it ended.
//
// What mcp-go lacks is here. mcp-go keeps a task apart from other
// sessions' only when both have a session id, and protocol 2026-07-28
// has none: a task belongs to the caller that started it (the rate
// limiter's key: its token, or its tailnet node), and tasks/get,
// tasks/result and tasks/cancel of another caller's task are answered as
// for a task that does not exist. tasks/list is not offered. mcp-go keeps
// a finished task until its ttl ends (never, without one), and ends a
// running task when it does: a task must ask for a ttl within
// [minTaskTTL, maxTaskTTL], and a caller may start at most
// maxTasksPerCaller tasks within maxTaskTTL.
const (
	minTaskTTL        = time.Minute
	maxTaskTTL        = time.Hour
	maxTasksPerCaller = 32
	maxTasks          = 256 // running at once, over all callers
)

// protocolVersionMeta is the _meta key that carries a request's protocol
// revision on 2026-07-28, which has no initialize.
const protocolVersionMeta = "io.modelcontextprotocol/protocolVersion"

// errTaskNotFound answers for a task that is not the caller's.
var errTaskNotFound = errors.New("task not found")

// taskTable records who started each task, and runs each task's call in
// a context of its own.
//
// mcp-go v1.2.1 ran a task's call in the context of the request that
// started it, which it cancels once it has answered that request: every
// call would have been cancelled at once (v1.6.0 detaches the call itself;
// this stays, as it is also where a run learns its task id and its ttl
// ends it). So the call runs in a context detached
// from the request's (detach), which ends when mcp-go cancels the task
// (tasks/cancel) or its ttl ends. The call reaches detach with no task
// id: beforeCall tags the request (its _meta, which the call's request
// shares) with a taskRun, and created, which mcp-go calls with the same
// context before the call starts, gives the run its task id.
type taskTable struct {
	mu      sync.Mutex
	owner   map[string]string            // task id → rateKey of its caller
	recent  map[string][]time.Time       // rateKey → when its tasks were started, within maxTaskTTL
	pending map[context.Context]*taskRun // tagged calls whose task is not yet created
	runs    map[string]*taskRun          // task id → its run, until it ends
	now     func() time.Time
}

func newTaskTable() *taskTable {
	return &taskTable{owner: map[string]string{}, recent: map[string][]time.Time{},
		pending: map[context.Context]*taskRun{}, runs: map[string]*taskRun{}, now: time.Now}
}

// options are the mcp-go options that turn tasks on, when any tool can
// run as one; detach must be the outermost tool middleware.
func (t *taskTable) options(hooks *mcpserver.Hooks) []mcpserver.ServerOption {
	hooks.AddOnRequestInitialization(t.check)
	hooks.AddBeforeCallTool(t.beforeCall)
	hooks.AddAfterCallTool(func(ctx context.Context, _ any, _ *mcp.CallToolRequest, _ any) { t.forget(ctx) })
	hooks.AddOnError(func(ctx context.Context, _ any, _ mcp.MCPMethod, _ any, _ error) { t.forget(ctx) })
	th := &mcpserver.TaskHooks{}
	th.AddOnTaskCreated(t.created)
	th.AddOnTaskCancelled(func(_ context.Context, m mcpserver.TaskMetrics) { t.end(m.TaskID, true) })
	th.AddOnTaskCompleted(func(_ context.Context, m mcpserver.TaskMetrics) { t.end(m.TaskID, false) })
	th.AddOnTaskFailed(func(_ context.Context, m mcpserver.TaskMetrics) { t.end(m.TaskID, false) })
	return []mcpserver.ServerOption{
		mcpserver.WithToolHandlerMiddleware(t.detach),
		mcpserver.WithTaskCapabilities(false, true, true),
		mcpserver.WithTaskHooks(th),
		mcpserver.WithMaxConcurrentTasks(maxTasks),
	}
}

// taskRunKey is the _meta key under which beforeCall tags a task's call.
const taskRunKey = "dev.tailops/task-run"

// taskRun is one task's call: how to end it, once it runs.
type taskRun struct {
	mu      sync.Mutex
	ttl     time.Duration
	cancel  context.CancelFunc // the call's, once it runs
	stopped bool               // cancelled, or its ttl ended
}

// stop ends the call, or keeps it from starting.
func (r *taskRun) stop() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.stopped = true
	if r.cancel != nil {
		r.cancel()
	}
}

// beforeCall tags a tools/call that runs as a task.
func (t *taskTable) beforeCall(ctx context.Context, _ any, req *mcp.CallToolRequest) {
	if req.Params.Task == nil {
		return
	}
	run := &taskRun{}
	if ttl := req.Params.Task.TTL; ttl != nil {
		run.ttl = time.Duration(*ttl) * time.Millisecond
	}
	if req.Params.Meta == nil {
		req.Params.Meta = &mcp.Meta{}
	}
	if req.Params.Meta.AdditionalFields == nil {
		req.Params.Meta.AdditionalFields = map[string]any{}
	}
	req.Params.Meta.AdditionalFields[taskRunKey] = run
	t.mu.Lock()
	t.pending[ctx] = run
	t.mu.Unlock()
}

// forget drops a tagged call whose request mcp-go has answered (its task
// created, or refused).
func (t *taskTable) forget(ctx context.Context) {
	t.mu.Lock()
	delete(t.pending, ctx)
	t.mu.Unlock()
}

// detach runs a task's call in a context of its own, which ends when the
// task is cancelled or its ttl ends, not with the request that started it.
func (t *taskTable) detach(next mcpserver.ToolHandlerFunc) mcpserver.ToolHandlerFunc {
	return func(ctx context.Context, req mcp.CallToolRequest) (*mcp.CallToolResult, error) {
		var run *taskRun
		if m := req.Params.Meta; m != nil {
			run, _ = m.AdditionalFields[taskRunKey].(*taskRun)
			delete(m.AdditionalFields, taskRunKey)
		}
		if run == nil {
			return next(ctx, req)
		}
		ctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
		defer cancel()
		run.mu.Lock()
		run.cancel = cancel
		if run.stopped {
			cancel()
		}
		run.mu.Unlock()
		return next(ctx, req)
	}
}

// end forgets a task's run once the task has ended; cancelled ends its
// call.
func (t *taskTable) end(id string, cancelled bool) {
	t.mu.Lock()
	run := t.runs[id]
	delete(t.runs, id)
	t.mu.Unlock()
	if run != nil && cancelled {
		run.stop()
	}
}

// taskRequest is the part of a request the task rules look at.
type taskRequest struct {
	Method string `json:"method"`
	Params struct {
		TaskID string `json:"taskId"`
		Task   *struct {
			TTL *int64 `json:"ttl"`
		} `json:"task"`
		// Decoded only for a task-augmented tools/call (modernMeta):
		// nearly every request is not one.
		Meta json.RawMessage `json:"_meta"`
	} `json:"params"`
}

// modernMeta reports whether a request's _meta carries the protocol
// version key of revision 2026-07-28.
func modernMeta(meta json.RawMessage) bool {
	var m map[string]json.RawMessage
	if json.Unmarshal(meta, &m) != nil {
		return false
	}
	_, ok := m[protocolVersionMeta]
	return ok
}

// check refuses, before mcp-go handles it, a task request of another
// caller's task, tasks/list, and a task-augmented tools/call without an
// acceptable ttl or past the caller's quota.
func (t *taskTable) check(ctx context.Context, _ any, message any) error {
	raw, ok := message.(json.RawMessage)
	if !ok {
		return nil
	}
	if e := envelopeFrom(ctx); e != nil && e.ok && e.Method == mcp.MethodToolsCall && e.Params.Task == nil {
		return nil // the HTTP edge read this request whole: it asks for no task
	}
	var req taskRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		// mcp-go answers a request it cannot read itself, but it reads
		// less than this: a field of the wrong type it does not need
		// (a number taskId on a tools/call) would carry a task past
		// these rules. A task request this cannot read is refused.
		if method, _ := methodOf(raw); method == string(mcp.MethodToolsCall) || strings.HasPrefix(method, "tasks/") {
			return fmt.Errorf("invalid %s request: %v", method, err)
		}
		return nil
	}
	key := rateKey(auth.CallerFrom(ctx))
	switch req.Method {
	case string(mcp.MethodToolsCall):
		if req.Params.Task == nil {
			return nil
		}
		if modernMeta(req.Params.Meta) {
			// mcp-go serves no tasks/result on 2026-07-28: the result
			// could never be fetched.
			return errors.New("tasks are served on protocol revisions 2025-11-25 and earlier, where tasks/result hands back the result; on this revision call the tool without a task (progress notifications report on it)")
		}
		ttl := req.Params.Task.TTL
		if ttl == nil || *ttl < minTaskTTL.Milliseconds() || *ttl > maxTaskTTL.Milliseconds() {
			return fmt.Errorf("a task must ask for a ttl (params.task.ttl, in milliseconds) between %d and %d: the task, finished or not, is dropped when it ends",
				minTaskTTL.Milliseconds(), maxTaskTTL.Milliseconds())
		}
		if n := t.started(key); n >= maxTasksPerCaller {
			return fmt.Errorf("%d tasks started within the last %s: the most one caller may start; call the tool without a task, or later", n, maxTaskTTL)
		}
	case string(mcp.MethodTasksList):
		return errors.New("tasks/list is not offered: poll a task with tasks/get by the id its tools/call returned")
	case string(mcp.MethodTasksGet), string(mcp.MethodTasksResult), string(mcp.MethodTasksCancel):
		t.mu.Lock()
		owner, ok := t.owner[req.Params.TaskID]
		t.mu.Unlock()
		if !ok || owner != key {
			return errTaskNotFound
		}
	}
	return nil
}

// owns reports whether the task id is one the caller with rate key key
// started.
func (t *taskTable) owns(id, key string) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	owner, ok := t.owner[id]
	return ok && owner == key
}

// started returns how many tasks key started within maxTaskTTL,
// forgetting older ones.
func (t *taskTable) started(key string) int {
	t.mu.Lock()
	defer t.mu.Unlock()
	cut := t.now().Add(-maxTaskTTL)
	ts := t.recent[key]
	i := 0
	for i < len(ts) && ts[i].Before(cut) {
		i++
	}
	ts = ts[i:]
	if len(ts) == 0 {
		delete(t.recent, key)
	} else {
		t.recent[key] = ts
	}
	return len(ts)
}

// created records a new task's owner, until mcp-go has forgotten the
// task (its ttl, at most maxTaskTTL, and mcp-go's five minutes of
// "expired" answers).
func (t *taskTable) created(ctx context.Context, m mcpserver.TaskMetrics) {
	key := rateKey(auth.CallerFrom(ctx))
	t.mu.Lock()
	t.owner[m.TaskID] = key
	t.recent[key] = append(t.recent[key], t.now())
	run := t.pending[ctx]
	delete(t.pending, ctx)
	if run != nil {
		t.runs[m.TaskID] = run
	}
	t.mu.Unlock()
	if run != nil && run.ttl > 0 {
		// mcp-go drops the task when its ttl ends; the call ends then too.
		time.AfterFunc(run.ttl, func() { t.end(m.TaskID, true) })
	}
	time.AfterFunc(maxTaskTTL+6*time.Minute, func() {
		t.mu.Lock()
		delete(t.owner, m.TaskID)
		t.mu.Unlock()
	})
}
