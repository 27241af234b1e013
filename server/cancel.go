// SPDX-License-Identifier: Apache-2.0

package server

import (
	"net/http"

	"github.com/mark3labs/mcp-go/mcp"
)

// modernCancel reports whether a request is a notifications/cancelled of
// protocol 2026-07-28 over HTTP, which the edge answers itself (202) and
// does not pass to mcp-go. On 2026-07-28's Streamable HTTP, closing a
// request's stream is its cancellation; a cancellation notification is
// not expected there and a server may ignore it. Passed on, mcp-go (v1.6.0)
// would cancel by the request ID alone, since these requests have no
// session: any caller's in-flight request with that ID, such as another
// client's subscriptions/listen (every Go SDK client's first one is ID 2)
// or its tool call. And one without a _meta protocol version, as the Go
// SDK (v1.8.0) sends it on Unsubscribe, would be answered 400, after
// which that client fails its whole connection.
//
// Only a well-formed one is answered so: the header naming 2026-07-28 or
// later, and the body's _meta naming the same or nothing (a notification
// is not a request, which must carry it); mcp-go refuses the others as
// before. One whose envelope does not decode never gets here: the edge
// answers it 400 (readEnvelope, gatedMethods), since mcp-go would read it
// as a cancellation all the same.
func modernCancel(r *http.Request, e *envelope) bool {
	if e == nil || !e.ok || e.Method != mcp.MethodNotificationCancelled || len(e.ID) != 0 {
		return false
	}
	header, meta := r.Header.Get(mcp.HeaderProtocolVersion), e.Params.Meta.protocolVersion()
	return mcp.IsModernProtocol(header) && (meta == "" || meta == header)
}
