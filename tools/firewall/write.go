// SPDX-License-Identifier: Apache-2.0

package firewall

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/userdata"
	"golang.org/x/sys/unix"

	"github.com/tailops/tailops/tools"
)

// idPrefix starts the comment of every rule TailOps adds.
const idPrefix = "tailops:"

// ownTable is TailOps' table.
var ownTable = &nftables.Table{Family: nftables.TableFamilyINet, Name: OwnTable}

// isOwnTable reports whether t is TailOps' table.
func isOwnTable(t *nftables.Table) bool {
	return t.Family == nftables.TableFamilyINet && t.Name == OwnTable
}

// commentID returns the TailOps id in a rule comment, or "".
func commentID(c string) string {
	rest, ok := strings.CutPrefix(c, idPrefix)
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(rest, " ")
	return id
}

// protections are the configured protections.
func (f *firewall) protections() Protections {
	return Protections{Interfaces: f.cfg.TailnetInterfaces, TCPPorts: f.cfg.ProtectedTCPPorts, UDPPorts: f.cfg.ProtectedUDPPorts}
}

// ownChain returns the declaration of one of TailOps' base chains.
func ownChain(name string) *nftables.Chain {
	hook := map[string]*nftables.ChainHook{
		"input": nftables.ChainHookInput, "forward": nftables.ChainHookForward, "output": nftables.ChainHookOutput,
	}[name]
	accept := nftables.ChainPolicyAccept
	return &nftables.Chain{Name: name, Table: ownTable, Type: nftables.ChainTypeFilter, Hooknum: hook,
		Priority: nftables.ChainPriorityFilter, Policy: &accept}
}

// addRule validates, compiles and adds one rule to table inet tailops,
// creating the table and its base chains if need be.
func (f *firewall) addRule(ctx context.Context, in AddRuleArgs) (_ AddRuleResult, err error) {
	defer decodePanic("adding the rule", &err)
	c, err := compile(f.protections(), in)
	if err != nil {
		return AddRuleResult{}, err
	}
	id := newID()
	comment := idPrefix + id
	if in.Note != "" {
		comment += " " + in.Note
	}
	conn, err := f.conn()
	if err != nil {
		return AddRuleResult{}, err
	}
	defer conn.CloseLasting()
	// Only the base chains that are missing are declared: declaring an
	// existing one again would reset its policy, which the owner may have
	// set by hand (policy drop on input).
	chains, err := conn.ListChainsOfTableFamily(nftables.TableFamilyINet)
	if err != nil {
		return AddRuleResult{}, netlinkError("listing nftables chains", err)
	}
	conn.AddTable(ownTable)
	for _, name := range ownChains {
		if !slices.ContainsFunc(chains, func(ch *nftables.Chain) bool { return ch.Table.Name == OwnTable && ch.Name == name }) {
			conn.AddChain(ownChain(name))
		}
	}
	chain := ownChain(c.chain)
	conn.AddRule(&nftables.Rule{Table: ownTable, Chain: chain, Exprs: c.exprs,
		UserData: userdata.AppendString(nil, userdata.TypeComment, comment)})
	if err := conn.Flush(); err != nil {
		return AddRuleResult{}, netlinkError("adding the rule to table inet "+OwnTable, err)
	}
	// The kernel gives the handle in its echo, which the library drops:
	// find the rule again by its id.
	rules, err := conn.GetRules(ownTable, chain)
	if err != nil {
		return AddRuleResult{}, fmt.Errorf("the rule WAS added to chain %s of table inet %s (id %s), but reading it back failed, so its handle is unknown: "+
			"do not add it again; get_firewall_rules shows it: %w", c.chain, OwnTable, id, netlinkError("reading back the rule", err))
	}
	for _, r := range rules {
		if got := f.rule(ownTable, r); got.ID == id {
			f.log.InfoContext(ctx, "firewall rule added", slog.String("chain", c.chain), slog.Uint64("handle", r.Handle), slog.String("id", id))
			return AddRuleResult{Table: "inet " + OwnTable, Chain: c.chain, Handle: r.Handle, ID: id, Text: got.Text}, nil
		}
	}
	return AddRuleResult{}, fmt.Errorf("the rule was added to chain %s of table inet %s, but is not there any more (id %s)", c.chain, OwnTable, id)
}

// deleteRule deletes one rule of table inet tailops.
func (f *firewall) deleteRule(ctx context.Context, in DeleteRuleArgs) (_ DeleteRuleResult, err error) {
	defer decodePanic("deleting the rule", &err)
	if err := checkTable(in.Table); err != nil {
		return DeleteRuleResult{}, err
	}
	if in.Handle == 0 && in.ID == "" {
		return DeleteRuleResult{}, tools.ArgErrorf("handle", "give the rule's handle or its id")
	}
	conn, err := f.conn()
	if err != nil {
		return DeleteRuleResult{}, err
	}
	defer conn.CloseLasting()
	tables, err := conn.ListTablesOfFamily(nftables.TableFamilyINet)
	if err != nil {
		return DeleteRuleResult{}, netlinkError("listing nftables tables", err)
	}
	if !hasOwnTable(tables) {
		return DeleteRuleResult{}, fmt.Errorf("there is no table inet %s: TailOps has added no rule on this host (it deletes only its own)", OwnTable)
	}
	for _, name := range ownChains {
		chain := ownChain(name)
		rules, err := conn.GetRules(ownTable, chain)
		if err != nil {
			if errors.Is(err, unix.ENOENT) || strings.Contains(err.Error(), "no such file") {
				continue // the chain was removed by hand
			}
			return DeleteRuleResult{}, netlinkError("listing the rules of table inet "+OwnTable, err)
		}
		for _, r := range rules {
			got := f.rule(ownTable, r)
			if in.Handle != 0 && r.Handle != in.Handle || in.ID != "" && got.ID != in.ID {
				continue
			}
			if err := conn.DelRule(&nftables.Rule{Table: ownTable, Chain: chain, Handle: r.Handle}); err != nil {
				return DeleteRuleResult{}, fmt.Errorf("deleting rule %d: %w", r.Handle, err)
			}
			if err := conn.Flush(); err != nil {
				return DeleteRuleResult{}, netlinkError(fmt.Sprintf("deleting rule %d of table inet %s", r.Handle, OwnTable), err)
			}
			f.log.InfoContext(ctx, "firewall rule deleted", slog.String("chain", name), slog.Uint64("handle", r.Handle), slog.String("id", got.ID))
			return DeleteRuleResult{Table: "inet " + OwnTable, Chain: name, Handle: r.Handle, ID: got.ID, Deleted: got.Text}, nil
		}
	}
	what := fmt.Sprintf("handle %d", in.Handle)
	switch {
	case in.Handle != 0 && in.ID != "":
		what = fmt.Sprintf("handle %d and id %q", in.Handle, in.ID)
	case in.ID != "":
		what = fmt.Sprintf("id %q", in.ID)
	}
	return DeleteRuleResult{}, fmt.Errorf("no rule with %s in table inet %s (TailOps deletes only its own rules; get_firewall_rules "+
		"with table \"inet %s\" lists them)", what, OwnTable, OwnTable)
}

// hasOwnTable reports whether tables hold TailOps' table.
func hasOwnTable(tables []*nftables.Table) bool {
	for _, t := range tables {
		if isOwnTable(t) {
			return true
		}
	}
	return false
}

// newID returns a fresh rule id.
func newID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b)
}
