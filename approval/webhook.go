// SPDX-License-Identifier: Apache-2.0

package approval

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"time"
)

// Webhook wire format.
const (
	// HeaderTimestamp carries the request's time in Unix seconds.
	HeaderTimestamp = "X-TailOps-Timestamp"
	// HeaderSignature carries "sha256=" + hex HMAC-SHA256(secret,
	// timestamp + "." + body).
	HeaderSignature = "X-TailOps-Signature"
	// DefaultWebhookTimeout bounds a webhook call when Webhook.Timeout is 0.
	DefaultWebhookTimeout = 60 * time.Second
	// maxWebhookResponse is how much of the response body is read.
	maxWebhookResponse = 64 << 10
)

// Webhook asks an HTTP endpoint to decide approval requests. It POSTs the
// Request as JSON (Content-Type application/json) with HeaderTimestamp
// and HeaderSignature, and expects status 200 with the JSON object
//
//	{"approved": true|false, "reason": "...", "approver": "...", "id": "..."}
//
// where "approved" is required and "id", when present, must be the
// request's id. Any other answer (another status, a body that is not such
// an object, a different id), a timeout or a network error denies the
// request, with the reason. Redirects are not followed.
type Webhook struct {
	// URL is where requests are POSTed.
	URL string
	// Secret is the HMAC key; it is never logged.
	Secret []byte
	// Timeout bounds each call; 0 means DefaultWebhookTimeout.
	Timeout time.Duration
	// Client sends the requests; nil means a client that does not follow
	// redirects. Its own Timeout, if any, applies as well.
	Client *http.Client
	// Now is the clock for the timestamp header; nil means time.Now.
	Now func() time.Time
	// Logger receives failures; nil means slog.Default().
	Logger *slog.Logger
}

// LoadWebhookSecret reads a webhook secret from path, trimming surrounding
// white space. It refuses an empty secret and a file other users may
// access (any "other" permission bit), so that the secret stays between
// the server and the webhook.
func LoadWebhookSecret(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("reading webhook secret: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("reading webhook secret: %w", err)
	}
	if fi.Mode().Perm()&0o007 != 0 {
		return nil, fmt.Errorf("reading webhook secret: %s is accessible by other users (mode %v); chmod o-rwx it", path, fi.Mode().Perm())
	}
	b, err := io.ReadAll(io.LimitReader(f, 64<<10))
	if err != nil {
		return nil, fmt.Errorf("reading webhook secret: %w", err)
	}
	b = bytes.TrimSpace(b)
	if len(b) == 0 {
		return nil, fmt.Errorf("reading webhook secret: %s is empty", path)
	}
	return b, nil
}

// webhookAnswer is the webhook's response body.
type webhookAnswer struct {
	Approved *bool   `json:"approved"`
	Reason   string  `json:"reason"`
	Approver string  `json:"approver"`
	ID       *string `json:"id"`
}

// Verdict is a webhook's answer, or the denial its failure amounts to.
type Verdict struct {
	// Approved is true only for a valid approving answer.
	Approved bool
	// Reason is the webhook's reason, or why the call failed.
	Reason string
	// Approver is who the webhook says decided; "" when it said nothing.
	Approver string
	// Failed is true when the webhook gave no valid answer (and Approved
	// is false).
	Failed bool
}

// Decide POSTs r to the webhook and returns its verdict. It never fails:
// every failure is a denial whose Reason says what went wrong (without
// the URL's query or credentials).
func (w *Webhook) Decide(ctx context.Context, r *Request) Verdict {
	v := w.decide(ctx, r)
	if v.Failed {
		w.logger().Warn("approval webhook failed; request denied", slog.String("approval_id", r.ID),
			slog.String("host", w.host()), slog.String("reason", v.Reason))
	}
	return v
}

func (w *Webhook) decide(ctx context.Context, r *Request) Verdict {
	fail := func(format string, args ...any) Verdict {
		return Verdict{Reason: "webhook: " + fmt.Sprintf(format, args...), Failed: true}
	}
	body, err := json.Marshal(r)
	if err != nil {
		return fail("encoding request: %v", err)
	}
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = DefaultWebhookTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, w.URL, bytes.NewReader(body))
	if err != nil {
		return fail("building request: %v", stripURL(err))
	}
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	ts := strconv.FormatInt(now().Unix(), 10)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "tailops-approval")
	req.Header.Set(HeaderTimestamp, ts)
	req.Header.Set(HeaderSignature, sign(w.Secret, ts, body))
	client := w.Client
	if client == nil {
		client = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
	resp, err := client.Do(req)
	if err != nil {
		switch {
		case errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.Is(err, context.DeadlineExceeded):
			return fail("no answer within %v", timeout)
		case errors.Is(err, context.Canceled):
			return fail("call canceled")
		}
		return fail("sending request: %v", stripURL(err))
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxWebhookResponse+1))
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			return fail("no answer within %v", timeout)
		}
		return fail("reading response: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		return fail("status %d, want 200", resp.StatusCode)
	}
	if len(data) > maxWebhookResponse {
		return fail("malformed response: longer than %d bytes", maxWebhookResponse)
	}
	var a webhookAnswer
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&a); err != nil {
		return fail("malformed response: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return fail("malformed response: data after the JSON object")
	}
	if a.Approved == nil {
		return fail(`malformed response: no "approved"`)
	}
	if a.ID != nil && *a.ID != r.ID {
		return fail("response is for request %q, not %s", truncate(*a.ID, 40), r.ID)
	}
	return Verdict{Approved: *a.Approved, Reason: truncate(a.Reason, 1000), Approver: truncate(a.Approver, 200)}
}

// sign returns the HeaderSignature value for body sent at timestamp ts.
func sign(secret []byte, ts string, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(ts))
	m.Write([]byte("."))
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

func (w *Webhook) logger() *slog.Logger {
	if w.Logger != nil {
		return w.Logger
	}
	return slog.Default()
}

// host is the URL's host, for logs.
func (w *Webhook) host() string {
	u, err := url.Parse(w.URL)
	if err != nil {
		return "(invalid URL)"
	}
	return u.Host
}

// stripURL drops the URL (which may hold credentials) from a *url.Error.
func stripURL(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return strings.ToValidUTF8(s[:n], "") + "…"
}
