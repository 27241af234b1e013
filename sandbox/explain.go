// SPDX-License-Identifier: Apache-2.0

package sandbox

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"
	"syscall"
	"text/tabwriter"
)

// Explain prints the policy for people: the kernel's Landlock ABI, each
// path with its rights, the ports, the syscall policy, and what the
// kernel cannot enforce. It is what `tailops sandbox explain` shows.
func (p *Policy) Explain(w io.Writer) error {
	bw := bufio.NewWriter(w)
	e := &explainer{w: bw}
	e.header(p)
	e.paths(p)
	e.network(p)
	e.capabilities(p)
	e.syscalls(p)
	e.gaps(p)
	if e.err != nil {
		return fmt.Errorf("explaining sandbox policy: %w", e.err)
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("explaining sandbox policy: %w", err)
	}
	return nil
}

type explainer struct {
	w   io.Writer
	err error
}

func (e *explainer) printf(format string, args ...any) {
	if e.err == nil {
		_, e.err = fmt.Fprintf(e.w, format, args...)
	}
}

func (e *explainer) table(rows [][]string) {
	if e.err != nil {
		return
	}
	tw := tabwriter.NewWriter(e.w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		if _, e.err = fmt.Fprintf(tw, "  %s\n", strings.Join(r, "\t")); e.err != nil {
			return
		}
	}
	e.err = tw.Flush()
}

func (e *explainer) header(p *Policy) {
	e.printf("TailOps sandbox policy\n")
	e.printf("mode:   %s\n", p.Mode)
	if p.Mode == ModeOff {
		e.printf("        (off: nothing below is applied)\n")
	}
	if len(p.Grantees) == 0 {
		e.printf("grants: none\n")
	} else {
		items := slices.Clone(p.Grantees)
		for i := range items[:len(items)-1] {
			items[i] += ","
		}
		e.printf("grants:\n%s", wrap(items, "        ", 100))
	}
	ll := "none"
	if p.KernelLandlockABI > 0 {
		ll = fmt.Sprintf("ABI %d (go-landlock knows up to %d; used: %d)", p.KernelLandlockABI, newestKnownABI, min(p.KernelLandlockABI, newestKnownABI))
	}
	sc := "no"
	if p.KernelSeccomp {
		sc = "yes"
	}
	e.printf("kernel: Landlock %s; seccomp filters with TSYNC: %s\n", ll, sc)
}

func (e *explainer) paths(p *Policy) {
	exec := "nowhere"
	if p.Exec {
		exec = "only where marked exec"
	}
	e.printf("\nLandlock, files (anything not listed: no access; execute: %s)\n", exec)
	e.table(pathRows([][]string{{"RIGHTS", "PATH", "WHY"}}, p.Paths))
	if len(p.Missing) > 0 {
		e.printf("  left out, since they do not exist (Landlock needs existing paths; Apply adds those that exist by then):\n")
		e.table(pathRows(nil, p.Missing))
	}
	if len(p.Unreachable) > 0 {
		e.printf("  left out, since this process may not reach them (permission denied; the kernel refuses them to it anyway):\n")
		e.table(pathRows(nil, p.Unreachable))
	}
}

// pathRows appends one table row per rule to rows.
func pathRows(rows [][]string, rules []PathRule) [][]string {
	for _, r := range rules {
		rows = append(rows, []string{r.Access.String(), r.Path, strings.Join(r.Why, "; ")})
	}
	return rows
}

func ports(rules []PortRule) string {
	if len(rules) == 0 {
		return "none"
	}
	var parts []string
	for _, r := range rules {
		parts = append(parts, fmt.Sprintf("%d (%s)", r.Port, strings.Join(r.Why, "; ")))
	}
	return strings.Join(parts, ", ")
}

func (e *explainer) network(p *Policy) {
	e.printf("\nLandlock, network\n")
	connect := ports(p.Connect)
	if p.ConnectAny {
		connect = "any port, for outbound connections of " + strings.Join(p.ConnectAnyWhy, ", ")
	}
	udp := "none (from Landlock ABI 10)"
	switch {
	case p.UDPAny:
		udp = "any port, for " + strings.Join(p.UDPAnyWhy, ", ")
	case p.DNS:
		udp = "port 53 only, for DNS (from Landlock ABI 10)"
	}
	unix := "no pathname unix sockets (from Landlock ABI 9)"
	if socks := socketPaths(p); len(socks) > 0 {
		unix = "connect to " + strings.Join(socks, ", ") + " only (from Landlock ABI 9)"
	}
	e.table([][]string{
		{"TCP bind:", ports(p.Bind)},
		{"TCP connect:", connect},
		{"UDP:", udp},
		{"unix sockets:", unix},
		{"netlink:", netlinkText(p.Netlink)},
		{"MPTCP:", "not covered by Landlock; seccomp refuses IPPROTO_MPTCP sockets, and listeners from ListenConfig have MPTCP off"},
	})
}

// socketPaths are the paths of the unix sockets p lets the process
// connect to.
func socketPaths(p *Policy) []string {
	var out []string
	for _, r := range p.Sockets() {
		out = append(out, r.Path)
	}
	return out
}

// netlinkText says which netlink protocols seccomp lets the process open.
func netlinkText(rules []NamedRule) string {
	if len(rules) == 0 {
		return "none (seccomp refuses every netlink socket)"
	}
	var parts []string
	for _, r := range rules {
		parts = append(parts, fmt.Sprintf("%s (%s)", r.Name, strings.Join(r.Why, "; ")))
	}
	return strings.Join(parts, ", ") + " only; seccomp refuses every other protocol"
}

func (e *explainer) capabilities(p *Policy) {
	e.printf("\ncapabilities (dropped before serving from every thread: effective, permitted, inheritable, ambient and bounding sets)\n")
	var rows [][]string
	for _, r := range p.Capabilities {
		rows = append(rows, []string{"keep " + r.Name, "(if the process has it; " + strings.Join(r.Why, "; ") + ")"})
	}
	if len(rows) == 0 {
		rows = append(rows, []string{"keep", "none: every capability is dropped"})
	}
	rows = append(rows, []string{"this process:", currentCaps()})
	e.table(rows)
}

func (e *explainer) syscalls(p *Policy) {
	var always, cond []SyscallRule
	for _, r := range p.Syscalls {
		if r.Conditional() {
			cond = append(cond, r)
		} else {
			always = append(always, r)
		}
	}
	e.printf("\nseccomp, syscalls (anything not listed fails with EPERM; no_new_privs; all threads via TSYNC)\n")
	e.printf("  allowed: %d syscalls (%d always, %d with conditions)\n", len(p.Syscalls), len(always), len(cond))
	if p.Exec {
		e.printf("  exec:    yes, for %s\n", strings.Join(p.ExecBinaries, ", "))
	} else {
		e.printf("  exec:    no (execve and execveat refused; Landlock grants execute nowhere)\n")
	}
	e.printf("  with conditions:\n")
	for _, r := range cond {
		e.printf("    %s: %s\n", r.Name, r.Why)
		if r.Errno != 0 {
			e.printf("        fails with %s\n", errnoName(r.Errno))
			continue
		}
		if arg, vals, ok := oneOf(r.When); ok {
			e.printf("        when arg%d is one of %s\n", arg, strings.Join(vals, ", "))
			continue
		}
		for i, alt := range r.When {
			var cs []string
			for _, c := range alt {
				cs = append(cs, c.String())
			}
			lead := "when"
			if i > 0 {
				lead = "  or"
			}
			e.printf("        %s %s\n", lead, strings.Join(cs, " && "))
		}
	}
	names := make([]string, len(always))
	for i, r := range always {
		names[i] = r.Name
	}
	e.printf("  always allowed:\n%s", wrap(names, "    ", 100))
	e.printf("  always denied (no tool may declare them):\n%s", wrap(p.Denied, "    ", 100))
}

func (e *explainer) gaps(p *Policy) {
	gaps := kernelGaps(p.KernelLandlockABI, p.KernelSeccomp, p)
	if len(gaps) > 0 {
		e.printf("\nnot enforced by this kernel:\n")
		for _, g := range gaps {
			e.printf("  - %s\n", g)
		}
	}
	if p.Mode == ModeEnforce {
		abi := p.KernelLandlockABI
		if err := enforceError(abi, p.KernelSeccomp, "kernel has no usable seccomp"); err != nil {
			e.printf("\nenforce mode will refuse to start: %v\n", err)
		}
	}
	if len(p.Notes) > 0 {
		e.printf("\nnotes:\n")
		for _, n := range p.Notes {
			e.printf("  - %s\n", n)
		}
	}
}

// wrap joins words into lines no longer than width, each with indent.
func wrap(words []string, indent string, width int) string {
	var b strings.Builder
	line := indent
	for _, w := range words {
		if len(line) > len(indent) && len(line)+1+len(w) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if len(line) > len(indent) {
			line += " "
		}
		line += w
	}
	if len(line) > len(indent) {
		b.WriteString(line + "\n")
	}
	return b.String()
}

// errnoName names the errnos the policy uses.
func errnoName(e syscall.Errno) string {
	switch e {
	case syscall.ENOSYS:
		return "ENOSYS"
	case syscall.EPERM:
		return "EPERM"
	case syscall.EACCES:
		return "EACCES"
	}
	return fmt.Sprintf("%d (%v)", int(e), e)
}

// oneOf reports whether every alternative is one equality on the same
// argument, and returns the argument and the values.
func oneOf(alts [][]ArgCmp) (arg uint, vals []string, ok bool) {
	if len(alts) < 2 {
		return 0, nil, false
	}
	for i, alt := range alts {
		if len(alt) != 1 || alt[0].Op != CmpEqual || (i > 0 && alt[0].Arg != arg) {
			return 0, nil, false
		}
		arg = alt[0].Arg
		vals = append(vals, fmt.Sprintf("%#x", alt[0].Value))
	}
	return arg, vals, true
}
