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
		next.ServeHTTP(&taskStatusWriter{ResponseWriter: w, tasks: s.tasks, r: r}, r)
	})
}

// taskStatusWriter is a response writer that drops the server-sent
// events holding a status notification of a task that is not the
// caller's. mcp-go (v1.6.0) writes each event with one Write, "event:
// message\ndata: " and then the message, whose method comes first after
// "jsonrpc". Were its resumable event store turned on, which writes an
// event's id line apart, a dropped event would leave that line behind.
type taskStatusWriter struct {
	http.ResponseWriter
	tasks *taskTable
	r     *http.Request
}

var (
	sseMessage       = []byte("event: message\ndata: ")
	taskStatusMethod = []byte(`"method":"` + mcp.MethodNotificationTasksStatus + `"`)
)

func (w *taskStatusWriter) Write(p []byte) (int, error) {
	if bytes.HasPrefix(p, sseMessage) && bytes.Contains(p[len(sseMessage):min(len(p), len(sseMessage)+128)], taskStatusMethod) {
		if id, ok := taskStatusEvent(p); ok && !w.tasks.owns(id, rateKey(auth.CallerFrom(w.r.Context()))) {
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
