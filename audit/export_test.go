// SPDX-License-Identifier: Apache-2.0

package audit

// Syncs returns how many times the log fsync'd its files while writing
// records, so tests can see group commit at work.
func (l *Log) Syncs() int64 { return l.syncs.Load() }

// CommitDelays returns how many commits waited for more records.
func (l *Log) CommitDelays() int64 { return l.delays.Load() }
