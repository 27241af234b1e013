// SPDX-License-Identifier: Apache-2.0

package metrics

// processReadPaths are the files the process collector reads
// (prometheus/procfs): the process's stat, open descriptors and limits,
// and the boot time in /proc/stat. Not /proc/self/net/netstat: its
// counters are the network namespace's, not the process's, and a
// Landlock rule on that file does not hold (procfs makes its inode anew
// at each lookup), so it would take all of /proc/self/net (every socket
// in the namespace).
var processReadPaths = []string{"/proc/self/stat", "/proc/self/fd", "/proc/self/limits", "/proc/stat"}

// ReadPaths are the paths the kernel sandbox must let the process read
// for the process_* metrics (the server grants them, read-only, as its
// own need); nil with Options.NoRuntime. A metric whose file cannot be
// read is left out of the scrape (process_network_* always are, under
// the sandbox), which still succeeds.
func (m *Metrics) ReadPaths() []string {
	if m == nil || m.noRuntime {
		return nil
	}
	return ReadPaths()
}

// ReadPaths are the paths the process_* metrics read, for a sandbox
// policy computed before a Metrics exists (`tailops sandbox explain`).
func ReadPaths() []string { return append([]string(nil), processReadPaths...) }
