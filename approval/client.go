// SPDX-License-Identifier: Apache-2.0

package approval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// Client talks to a server's approvals socket, for `tailops approvals`.
// Errors for sentinels the server reports (ErrNotFound, ErrNotPending,
// ErrExpired, ErrSelfApproval, ErrTwoPersonDisabled) wrap them, with the
// server's message.
type Client struct {
	path string
	hc   *http.Client
}

// NewClient returns a Client for the socket at path
// (STATE_DIR/approvals.sock).
func NewClient(path string) *Client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	return &Client{path: path, hc: &http.Client{
		Timeout: 30 * time.Second,
		Transport: &http.Transport{
			DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
				return d.DialContext(ctx, "unix", path)
			},
			DisableKeepAlives: true,
		},
	}}
}

// List returns the pending requests, or all the server keeps when all is
// true.
func (c *Client) List(ctx context.Context, all bool) ([]Request, error) {
	q := ""
	if all {
		q = "?all=1"
	}
	var out []Request
	if err := c.do(ctx, http.MethodGet, "/v1/approvals"+q, nil, &out); err != nil {
		return nil, fmt.Errorf("listing approval requests: %w", err)
	}
	return out, nil
}

// Show returns the request id.
func (c *Client) Show(ctx context.Context, id string) (Request, error) {
	var out Request
	if err := c.do(ctx, http.MethodGet, "/v1/approvals/"+url.PathEscape(id), nil, &out); err != nil {
		return Request{}, fmt.Errorf("showing approval request %s: %w", id, err)
	}
	return out, nil
}

// Approve approves the request id with reason.
func (c *Client) Approve(ctx context.Context, id, reason string) (Request, error) {
	var out Request
	if err := c.do(ctx, http.MethodPost, "/v1/approvals/"+url.PathEscape(id)+"/approve", map[string]string{"reason": reason}, &out); err != nil {
		return Request{}, fmt.Errorf("approving request %s: %w", id, err)
	}
	return out, nil
}

// Deny denies the request id with reason.
func (c *Client) Deny(ctx context.Context, id, reason string) (Request, error) {
	var out Request
	if err := c.do(ctx, http.MethodPost, "/v1/approvals/"+url.PathEscape(id)+"/deny", map[string]string{"reason": reason}, &out); err != nil {
		return Request{}, fmt.Errorf("denying request %s: %w", id, err)
	}
	return out, nil
}

// serverError is an error the server reported.
type serverError struct {
	msg string
	err error // the sentinel, or nil
}

func (e *serverError) Error() string { return e.msg }
func (e *serverError) Unwrap() error { return e.err }

func (c *Client) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, "http://"+socketHost+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return fmt.Errorf("connecting to %s (is tailops running with --approval-two-person, and are you root or its user?): %w", c.path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return fmt.Errorf("reading response: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		var e struct {
			Error string `json:"error"`
			Code  string `json:"code"`
		}
		if json.Unmarshal(data, &e) != nil || e.Error == "" {
			return fmt.Errorf("server answered %s", resp.Status)
		}
		se := &serverError{msg: e.Error}
		for _, c := range errorCodes {
			if c.code == e.Code {
				se.err = c.err
			}
		}
		return se
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("decoding response: %w", err)
	}
	return nil
}

// WriteList writes rs as a table for people: id, state, tool, requester,
// and when the request expires relative to now.
func WriteList(w io.Writer, rs []Request, now time.Time) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tSTATE\tTOOL\tREQUESTER\tEXPIRES")
	for i := range rs {
		r := &rs[i]
		exp := "in " + r.Expires.Sub(now).Round(time.Second).String()
		if !now.Before(r.Expires) {
			exp = r.Expires.Sub(now).Round(time.Second).String()[1:] + " ago"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", r.ID, r.State, r.Tool, oneLine(r.Requester()), exp)
	}
	return tw.Flush()
}

// WriteRequest writes r in full for people, arguments (redacted) as
// indented JSON, then the plan (redacted) the approval is bound to, if
// any: what the call will run.
func WriteRequest(w io.Writer, r *Request) error {
	args, err := json.MarshalIndent(r.Arguments, "  ", "  ")
	if err != nil {
		args = []byte("(unprintable)")
	}
	args = EscapeInvisible(args)
	var b strings.Builder
	fmt.Fprintf(&b, "id:        %s\n", r.ID)
	fmt.Fprintf(&b, "state:     %s\n", r.State)
	fmt.Fprintf(&b, "tool:      %s (risk %s)\n", r.Tool, r.Risk)
	fmt.Fprintf(&b, "requester: %s (auth %s", oneLine(r.Requester()), r.Caller.Method)
	if r.Caller.RemoteAddr != "" {
		fmt.Fprintf(&b, ", from %s", r.Caller.RemoteAddr)
	}
	b.WriteString(")\n")
	fmt.Fprintf(&b, "created:   %s\n", r.Created.Format(time.RFC3339))
	fmt.Fprintf(&b, "expires:   %s\n", r.Expires.Format(time.RFC3339))
	fmt.Fprintf(&b, "digest:    %s\n", r.Digest)
	if d := r.Decision; d != nil {
		verb := "denied"
		if d.Approved {
			verb = "approved"
		}
		fmt.Fprintf(&b, "decision:  %s by %s via %s at %s (after %s)", verb, oneLine(d.Approver), d.Mechanism,
			d.At.Format(time.RFC3339), d.Wait.Round(time.Second))
		if d.Reason != "" {
			fmt.Fprintf(&b, ": %s", oneLine(d.Reason))
		}
		b.WriteString("\n")
	}
	fmt.Fprintf(&b, "arguments:\n  %s\n", args)
	if r.Plan != nil {
		b.WriteString("will run:\n")
		writePlan(&b, r.Plan)
	}
	_, err = io.WriteString(w, b.String())
	return err
}

// writePlan writes a request's plan for people: an object's fields in
// order of their names, text of several lines (a compose configuration)
// as an indented block, anything else as JSON.
func writePlan(b *strings.Builder, plan any) {
	m, ok := plan.(map[string]any)
	if !ok {
		j, _ := json.MarshalIndent(plan, "  ", "  ")
		fmt.Fprintf(b, "  %s\n", EscapeInvisible(j))
		return
	}
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if s, ok := m[k].(string); ok && strings.Contains(s, "\n") {
			fmt.Fprintf(b, "  %s:\n", oneLine(k))
			for _, l := range strings.Split(strings.TrimRight(s, "\n"), "\n") {
				fmt.Fprintf(b, "    %s\n", oneLine(l))
			}
			continue
		}
		j, err := json.Marshal(m[k])
		if err != nil {
			j = []byte("(unprintable)")
		}
		fmt.Fprintf(b, "  %s: %s\n", oneLine(k), oneLine(string(j)))
	}
}

// oneLine keeps control characters from a request out of the terminal.
func oneLine(s string) string {
	return strings.Map(func(r rune) rune {
		if r < 0x20 || Invisible(r) {
			return '?'
		}
		return r
	}, s)
}
