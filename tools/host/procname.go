// SPDX-License-Identifier: Apache-2.0

package host

import (
	"context"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/shirou/gopsutil/v4/process"

	"github.com/tailops/tailops/redact"
)

// maxProcessName bounds a process name as the tools show it. The kernel's
// own name (comm) is at most 15 bytes; for one of exactly 15, gopsutil
// takes the base name of the command line's first word instead, which a
// process rewrites at will (setproctitle, perl's $0, Node's
// process.title): a whole command line, secrets in it, or text written
// for the model that reads the result.
const maxProcessName = 64

// processName returns p's name as the tools show it (showName); "" when
// it cannot be read.
func processName(ctx context.Context, p *process.Process) string {
	n, err := p.NameWithContext(ctx)
	if err != nil {
		return ""
	}
	return showName(n)
}

// commMax is the longest name the kernel keeps for a process (comm).
const commMax = 15

// showName returns a process name as the tools show it: up to its first
// control character, and for a name longer than the kernel's own (one
// gopsutil took from the command line) up to its first white space too;
// at most maxProcessName bytes (whole runes), with secrets redacted. A
// kernel name may hold a space ("Web Content").
func showName(n string) string {
	if i := strings.IndexFunc(n, unicode.IsControl); i >= 0 {
		n = n[:i]
	}
	if len(n) > commMax {
		if i := strings.IndexFunc(n, unicode.IsSpace); i >= 0 {
			n = n[:i]
		}
	}
	if len(n) > maxProcessName {
		cut := maxProcessName
		for cut > 0 && !utf8.RuneStart(n[cut]) {
			cut--
		}
		n = n[:cut]
	}
	return redact.Text(n)
}

// showDevice returns a mount's device as the tools show it: FUSE and
// network mounts may name a URL with credentials there
// (curlftpfs#ftp://user:pass@host/).
func showDevice(d string) string { return redact.Text(d) }
