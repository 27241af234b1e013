// SPDX-License-Identifier: Apache-2.0

package server

import (
	"bytes"
	"encoding/json"
	"net/http"

	"github.com/mark3labs/mcp-go/mcp"

	"github.com/tailops/tailops/auth"
)

// taskStatusFilter keeps task status notifications with their task's
// caller. mcp-go (v1.6.0) sends notifications/tasks/status to every
// session (SendNotificationToAllClients), which would tell every caller
// when another's deploys and upgrades end, and how. On each /mcp response
// it drops the status events of tasks the request's caller does not own.
// The specification lets a receiver leave them out: a requestor polls
// tasks/get.
func (s *Server) taskStatusFilter(next http.Handler) http.Handler {
	if s.tasks == nil {
		return next
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := rateKey(auth.CallerFrom(r.Context()))
		next.ServeHTTP(&taskStatusWriter{ResponseWriter: w, owns: func(id string) bool { return s.tasks.owns(id, key) }}, r)
	})
}

// taskStatusWriter is a response writer that drops the server-sent
// events holding a status notification of a task owns says is not the
// caller's. mcp-go writes each event with one Write.
type taskStatusWriter struct {
	http.ResponseWriter
	owns func(taskID string) bool
}

var taskStatusMethod = []byte(mcp.MethodNotificationTasksStatus)

func (w *taskStatusWriter) Write(p []byte) (int, error) {
	if bytes.Contains(p, taskStatusMethod) {
		if id, ok := taskStatusEvent(p); ok && !w.owns(id) {
			return len(p), nil
		}
	}
	return w.ResponseWriter.Write(p)
}

// Flush sends what was written, as the stream needs.
func (w *taskStatusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap is for http.ResponseController (mcp-go sets write deadlines).
func (w *taskStatusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// taskStatusEvent returns the task id of a server-sent event holding one
// notifications/tasks/status message ("event: message\ndata: {...}\n\n");
// ok is false for anything else.
func taskStatusEvent(p []byte) (id string, ok bool) {
	_, data, found := bytes.Cut(p, []byte("data: "))
	if !found {
		return "", false
	}
	data, _, _ = bytes.Cut(data, []byte("\n"))
	var n struct {
		Method string `json:"method"`
		Params struct {
			TaskID string `json:"taskId"`
		} `json:"params"`
	}
	if json.Unmarshal(data, &n) != nil || n.Method != mcp.MethodNotificationTasksStatus {
		return "", false
	}
	return n.Params.TaskID, true
}
