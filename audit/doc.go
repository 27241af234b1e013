// SPDX-License-Identifier: Apache-2.0

// Package audit is TailOps' tamper-evident, fail-closed audit log: one
// JSON line per tool call (allowed, denied or failed) and per other
// security event.
//
// # Format
//
// The log is a directory of files beside the path the operator configures
// (say /var/lib/tailops/audit.log):
//
//	audit.log           active file, one Record per line, '\n'-terminated
//	audit.log.000001    rotated files, oldest = lowest number (6 digits)
//	audit.log.head      {"seq":N,"hash":"<hex>"}: the last committed record
//	audit.log.lock      flock(2)ed by the one process writing the log
//	audit.log.torn-*    bytes cut from an interrupted write on Open (rare)
//
// Each line is the JSON encoding of a Record with its fields in declaration
// order. Seq counts records from 1 and continues across rotations and
// restarts. Time is UTC, RFC 3339 with nanoseconds. Prev is the hex
// SHA-256 of the previous line's bytes (without its '\n'); the very first
// record has 64 zeros. Files are created 0600 and a directory created for
// the log 0700.
//
// # Guarantees
//
// Durable: Write returns only after the record's line was written and
// fsync'd. Concurrent writers share one write and fsync (group commit).
// When a write would take the active file past Options.MaxSize, the file is
// renamed to the next <path>.NNNNNN and the directory fsync'd; rotated
// files are never deleted by this package.
//
// Fail closed: when a record cannot be written or synced, or the file at
// the log's path is no longer the one being written (removed, renamed away
// or replaced: checked with one stat(2) before each commit and by
// Healthy), Write returns an error and the Log becomes unhealthy: every
// later Write fails at once with an error wrapping ErrUnavailable and the
// cause. A server checks Healthy before running a tool and refuses the
// call when Write fails.
//
// Recovery: an unhealthy Log retries, at most once a second when written
// to or asked whether it is healthy, what Open does, and resumes once the
// log still ends with its last committed record and an EventLogRecovered
// record describing the outage is durable. The chain continues across the
// outage.
//
// No secrets: Write stores a redacted copy of Arguments and Approval
// (redact.Value) and redacts token-shaped values in RequestID, Reason and
// Error (redact.Text), so no caller can forget to. The rules are package
// redact's, the same that tool outputs and errors go through; they are
// heuristic: see package redact for what is and is not caught.
//
// # Tamper evidence
//
// Verify walks the hash chain and reports the first broken record. It
// detects an edited, inserted, deleted, duplicated or reordered line
// anywhere before the last record, including across rotated files, a
// deleted or renamed rotated file (the chain must start at seq 1 and have
// no gaps), and a torn or non-JSON line.
//
// The chain alone cannot show that the newest records were cut off or the
// very last one edited, so
// after each group commit the Log rewrites <path>.head with the seq and
// hash of the last committed record. Verify reports a log that ends before
// the head's seq or whose record at that seq has another hash; Open refuses
// to resume such a log (it compares the head with the last record only).
//
// What is not detected: anyone who can write the files can also rewrite
// the whole chain from the edit onwards and the head file, or delete the
// head file together with the newest records. The chain makes tampering
// evident to a reader who kept an earlier head (or shipped records off the
// host); it is not a signature. Verify also does not check the contents of
// a record (times, decisions), only that the chain is unbroken.
package audit
