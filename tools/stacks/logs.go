// SPDX-License-Identifier: Apache-2.0

package stacks

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/docker/compose/v5/pkg/api"
	"github.com/moby/moby/api/pkg/stdcopy"
	"github.com/moby/moby/client"

	"github.com/tailops/tailops/tools"
)

// LogsArgs is get_stack_logs's input.
type LogsArgs struct {
	Name     string `json:"name" jsonschema_description:"the stack (compose project) name"`
	Tail     *int   `json:"tail,omitempty" jsonschema_description:"lines per container and in all, 1 to 10000 (default 100)"`
	Since    string `json:"since,omitempty" jsonschema_description:"only lines since then: a duration such as 10m, or an RFC 3339 time"`
	MaxBytes *int   `json:"max_bytes,omitempty" jsonschema_description:"cap on the text returned, 1024 to 1048576 (default 65536), keeping the newest lines"`
}

// StackLogs is get_stack_logs's output.
type StackLogs struct {
	Name      string    `json:"name"`
	Lines     []LogLine `json:"lines" jsonschema_description:"oldest first, all services merged by time"`
	Truncated bool      `json:"truncated" jsonschema_description:"older lines were left out to keep within max_bytes"`
}

// LogLine is one line a container wrote.
type LogLine struct {
	Time      string `json:"time" jsonschema_description:"the daemon's time of the line, RFC 3339 with nanoseconds"`
	Service   string `json:"service"`
	Container string `json:"container"`
	Stream    string `json:"stream" jsonschema_description:"stdout or stderr"`
	Text      string `json:"text"`
}

// maxLogLine bounds one line read from the daemon.
const maxLogLine = 64 << 10

func (t *Toolset) stackLogs(ctx context.Context, in LogsArgs) (StackLogs, error) {
	if err := checkName(in.Name); err != nil {
		return StackLogs{}, err
	}
	tail, err := tools.IntArg("tail", in.Tail, 100, 1, 10000)
	if err != nil {
		return StackLogs{}, err
	}
	maxBytes, err := tools.IntArg("max_bytes", in.MaxBytes, 64<<10, 1024, 1<<20)
	if err != nil {
		return StackLogs{}, err
	}
	since, err := sinceArg(in.Since, time.Now())
	if err != nil {
		return StackLogs{}, err
	}
	projects, err := t.projectContainers(ctx, in.Name)
	if err != nil {
		return StackLogs{}, err
	}
	cs, ok := projects[in.Name]
	if !ok {
		return StackLogs{}, fmt.Errorf("no compose project named %q on the engine", in.Name)
	}
	cli, err := t.eng.client()
	if err != nil {
		return StackLogs{}, err
	}
	out := StackLogs{Name: in.Name, Lines: []LogLine{}}
	var all []LogLine
	for _, c := range cs {
		rc, err := cli.ContainerLogs(ctx, c.ID, client.ContainerLogsOptions{ShowStdout: true, ShowStderr: true, Timestamps: true,
			Tail: strconv.Itoa(tail), Since: since})
		if err != nil {
			return out, fmt.Errorf("reading the logs of %s: %w", strings.TrimPrefix(firstName(c.Names), "/"), err)
		}
		var stdout, stderr bytes.Buffer
		_, err = stdcopy.StdCopy(&stdout, &stderr, io.LimitReader(rc, int64(tail)*maxLogLine))
		rc.Close()
		if err != nil {
			return out, fmt.Errorf("reading the logs of %s: %w", strings.TrimPrefix(firstName(c.Names), "/"), err)
		}
		name, svc := strings.TrimPrefix(firstName(c.Names), "/"), c.Labels[api.ServiceLabel]
		all = append(all, splitLog(&stdout, "stdout", svc, name)...)
		all = append(all, splitLog(&stderr, "stderr", svc, name)...)
	}
	sort.SliceStable(all, func(i, j int) bool { return all[i].Time < all[j].Time })
	if len(all) > tail {
		all = all[len(all)-tail:]
	}
	size := 0
	start := len(all)
	for start > 0 && size+len(all[start-1].Text) <= maxBytes {
		size += len(all[start-1].Text)
		start--
	}
	out.Truncated = start > 0
	out.Lines = append(out.Lines, all[start:]...)
	return out, nil
}

// splitLog splits a stream written with timestamps into lines. The
// daemon's RFC 3339 nanosecond times sort as text once normalised to a
// fixed width.
func splitLog(r io.Reader, stream, svc, name string) []LogLine {
	var out []LogLine
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), maxLogLine)
	for sc.Scan() {
		ts, text, _ := strings.Cut(sc.Text(), " ")
		if tm, err := time.Parse(time.RFC3339Nano, ts); err == nil {
			ts = tm.UTC().Format("2006-01-02T15:04:05.000000000Z")
		}
		out = append(out, LogLine{Time: ts, Service: svc, Container: name, Stream: stream, Text: text})
	}
	return out
}

// sinceArg turns since (a duration before now, or an RFC 3339 time) into
// the API's form, Unix seconds; "" is "".
func sinceArg(since string, now time.Time) (string, error) {
	if since == "" {
		return "", nil
	}
	if d, err := time.ParseDuration(since); err == nil && d > 0 {
		return strconv.FormatInt(now.Add(-d).Unix(), 10), nil
	}
	if tm, err := time.Parse(time.RFC3339, since); err == nil {
		return strconv.FormatInt(tm.Unix(), 10), nil
	}
	return "", tools.ArgErrorf("since", "must be a positive duration such as 10m or an RFC 3339 time, got %q", since)
}

// logsText renders logs for clients that read only text.
func logsText(l StackLogs) string {
	var b strings.Builder
	if l.Truncated {
		b.WriteString("[older lines left out]\n")
	}
	for _, ln := range l.Lines {
		fmt.Fprintf(&b, "%s %s | %s\n", ln.Time, ln.Service, ln.Text)
	}
	return b.String()
}
