// SPDX-License-Identifier: Apache-2.0

package firewall

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/google/nftables"
	"github.com/google/nftables/userdata"

	"github.com/tailops/tailops/tools"
)

// RulesArgs are get_firewall_rules' arguments.
type RulesArgs struct {
	Table    string `json:"table,omitempty" jsonschema_description:"Only this table: its name, or family and name (\"inet tailops\", \"ip filter\"); empty means every table."`
	MaxRules *int   `json:"max_rules,omitempty" jsonschema_description:"At most this many rules, 1 to the server's limit (default 2000); the rest are counted, not listed."`
}

// Ruleset is the nftables ruleset.
type Ruleset struct {
	Tables []Table `json:"tables"`
	// Rules is the number of rules in the tables listed, Listed how many
	// are in this answer.
	Rules     int  `json:"rules"`
	Listed    int  `json:"listed"`
	Truncated bool `json:"truncated,omitempty" jsonschema_description:"Rules were left out: max_rules was reached."`
}

// Table is one nftables table.
type Table struct {
	Family  string  `json:"family" jsonschema:"enum=ip,enum=ip6,enum=inet,enum=arp,enum=bridge,enum=netdev,enum=unknown"`
	Name    string  `json:"name"`
	TailOps bool    `json:"tailops,omitempty" jsonschema_description:"TailOps' own table, the only one add_firewall_rule and delete_firewall_rule edit."`
	Chains  []Chain `json:"chains"`
	Sets    []Set   `json:"sets,omitempty"`
}

// Chain is one chain and its rules.
type Chain struct {
	Name     string `json:"name"`
	Type     string `json:"type,omitempty" jsonschema_description:"filter, nat or route, for a base chain."`
	Hook     string `json:"hook,omitempty" jsonschema_description:"The netfilter hook of a base chain (input, output, forward, prerouting, postrouting, ingress, egress); empty for a regular chain, reached by jump or goto."`
	Priority *int32 `json:"priority,omitempty"`
	Policy   string `json:"policy,omitempty" jsonschema:"enum=accept,enum=drop"`
	Rules    []Rule `json:"rules"`
}

// Set is one named set (anonymous sets show in the rules that use them).
type Set struct {
	Name     string `json:"name"`
	KeyType  string `json:"key_type,omitempty"`
	Interval bool   `json:"interval,omitempty"`
	Constant bool   `json:"constant,omitempty"`
	IsMap    bool   `json:"map,omitempty"`
}

// Rule is one rule.
type Rule struct {
	Handle  uint64 `json:"handle"`
	Text    string `json:"text" jsonschema_description:"The rule in nft's syntax, as far as it could be rendered; an expression that could not be is named in brackets and listed in unrendered."`
	Comment string `json:"comment,omitempty"`
	// ID is the id add_firewall_rule gave a TailOps rule.
	ID         string  `json:"id,omitempty" jsonschema_description:"The id add_firewall_rule gave this rule (TailOps' own rules only)."`
	Packets    *uint64 `json:"packets,omitempty"`
	Bytes      *uint64 `json:"bytes,omitempty"`
	Unrendered []Expr  `json:"unrendered,omitempty" jsonschema_description:"Expressions the text names but cannot spell out (iptables extensions, NAT, ...), as decoded."`
}

// familyNames names the table families as nft does.
var familyNames = map[nftables.TableFamily]string{
	nftables.TableFamilyIPv4: "ip", nftables.TableFamilyIPv6: "ip6", nftables.TableFamilyINet: "inet",
	nftables.TableFamilyARP: "arp", nftables.TableFamilyBridge: "bridge", nftables.TableFamilyNetdev: "netdev",
}

func familyName(f nftables.TableFamily) string {
	if n, ok := familyNames[f]; ok {
		return n
	}
	return "unknown"
}

// hookNames names the hooks of base chains (netdev's ingress shares
// prerouting's number, in another family).
func hookName(fam nftables.TableFamily, h nftables.ChainHook) string {
	if fam == nftables.TableFamilyNetdev {
		switch h {
		case *nftables.ChainHookIngress:
			return "ingress"
		case *nftables.ChainHookEgress:
			return "egress"
		}
	}
	switch h {
	case *nftables.ChainHookPrerouting:
		return "prerouting"
	case *nftables.ChainHookInput:
		return "input"
	case *nftables.ChainHookForward:
		return "forward"
	case *nftables.ChainHookOutput:
		return "output"
	case *nftables.ChainHookPostrouting:
		return "postrouting"
	}
	return fmt.Sprintf("hook %d", h)
}

// getRules reads the ruleset.
func (f *firewall) getRules(ctx context.Context, in RulesArgs) (rs Ruleset, err error) {
	defer decodePanic("reading the ruleset", &err)
	return f.readRules(ctx, in)
}

// decodePanic turns a panic of the netlink decoding (google/nftables
// indexes attributes without checking their length: FuzzRenderRule found
// Log's) into the call's error, instead of the server's end.
func decodePanic(doing string, err *error) {
	if p := recover(); p != nil {
		*err = fmt.Errorf("%s: decoding the kernel's answer failed (%v); get_firewall_rules with a table argument may avoid the rule at fault", doing, p)
	}
}

// readRules reads the ruleset.
func (f *firewall) readRules(ctx context.Context, in RulesArgs) (Ruleset, error) {
	limit, err := tools.IntArg("max_rules", in.MaxRules, f.cfg.MaxRules, 1, f.cfg.MaxRules)
	if err != nil {
		return Ruleset{}, err
	}
	c, err := f.conn()
	if err != nil {
		return Ruleset{}, err
	}
	defer c.CloseLasting()
	tables, err := c.ListTables()
	if err != nil {
		return Ruleset{}, netlinkError("listing nftables tables", err)
	}
	chains, err := c.ListChains()
	if err != nil {
		return Ruleset{}, netlinkError("listing nftables chains", err)
	}
	var out Ruleset
	for _, t := range tables {
		if in.Table != "" && in.Table != t.Name && in.Table != familyName(t.Family)+" "+t.Name {
			continue
		}
		if err := ctx.Err(); err != nil {
			return Ruleset{}, err
		}
		tt := Table{Family: familyName(t.Family), Name: t.Name, TailOps: isOwnTable(t)}
		sets, err := c.GetSets(t)
		if err != nil {
			return Ruleset{}, netlinkError(fmt.Sprintf("listing the sets of table %s %s", tt.Family, t.Name), err)
		}
		for _, s := range sets {
			if s.Anonymous {
				continue
			}
			tt.Sets = append(tt.Sets, Set{Name: s.Name, KeyType: s.KeyType.Name, Interval: s.Interval, Constant: s.Constant, IsMap: s.IsMap})
		}
		for _, ch := range chains {
			if ch.Table.Name != t.Name || ch.Table.Family != t.Family {
				continue
			}
			cc := Chain{Name: ch.Name, Rules: []Rule{}}
			if ch.Hooknum != nil {
				cc.Type, cc.Hook, cc.Priority = string(ch.Type), hookName(t.Family, *ch.Hooknum), (*int32)(ch.Priority)
				cc.Policy = "accept"
				if ch.Policy != nil && *ch.Policy == nftables.ChainPolicyDrop {
					cc.Policy = "drop"
				}
			}
			rules, err := c.GetRules(t, ch)
			if err != nil {
				return Ruleset{}, netlinkError(fmt.Sprintf("listing the rules of chain %s in table %s %s", ch.Name, tt.Family, t.Name), err)
			}
			out.Rules += len(rules)
			for _, r := range rules {
				if out.Listed >= limit {
					out.Truncated = true
					break
				}
				cc.Rules = append(cc.Rules, f.rule(t, r))
				out.Listed++
			}
			tt.Chains = append(tt.Chains, cc)
		}
		if tt.Chains == nil {
			tt.Chains = []Chain{}
		}
		out.Tables = append(out.Tables, tt)
	}
	if out.Tables == nil {
		out.Tables = []Table{}
	}
	if in.Table != "" && len(out.Tables) == 0 {
		return Ruleset{}, tools.ArgErrorf("table", "no table %q (the ruleset has %s)", in.Table, tableNames(tables))
	}
	return out, nil
}

// rule renders one rule.
func (f *firewall) rule(t *nftables.Table, r *nftables.Rule) Rule {
	text, other, counter := renderRule(t.Family, r.Exprs)
	out := Rule{Handle: r.Handle, Text: text, Unrendered: other}
	if counter != nil {
		out.Packets, out.Bytes = &counter.Packets, &counter.Bytes
	}
	if c, ok := userdata.GetString(r.UserData, userdata.TypeComment); ok {
		out.Comment = strings.TrimRight(c, "\x00")
		if isOwnTable(t) {
			out.ID = commentID(out.Comment)
		}
	}
	return out
}

// tableNames lists tables for a message.
func tableNames(ts []*nftables.Table) string {
	if len(ts) == 0 {
		return "no table"
	}
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = familyName(t.Family) + " " + t.Name
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}

// rulesetText renders the ruleset as nft list ruleset does, with handles.
func rulesetText(rs Ruleset) string {
	var b strings.Builder
	for _, t := range rs.Tables {
		fmt.Fprintf(&b, "table %s %s {", t.Family, ident(t.Name))
		if t.TailOps {
			b.WriteString(" # TailOps' own table")
		}
		b.WriteString("\n")
		for _, s := range t.Sets {
			fmt.Fprintf(&b, "\tset %s { type %s }\n", ident(s.Name), ident(s.KeyType))
		}
		for _, c := range t.Chains {
			fmt.Fprintf(&b, "\tchain %s {\n", ident(c.Name))
			if c.Hook != "" {
				fmt.Fprintf(&b, "\t\ttype %s hook %s priority %d; policy %s;\n", c.Type, c.Hook, *c.Priority, c.Policy)
			}
			for _, r := range c.Rules {
				fmt.Fprintf(&b, "\t\t%s", r.Text)
				if r.Comment != "" {
					fmt.Fprintf(&b, " comment %q", r.Comment)
				}
				fmt.Fprintf(&b, " # handle %d\n", r.Handle)
			}
			b.WriteString("\t}\n")
		}
		b.WriteString("}\n")
	}
	fmt.Fprintf(&b, "# %d rules, %d listed", rs.Rules, rs.Listed)
	if rs.Truncated {
		b.WriteString(" (truncated: raise max_rules or name a table)")
	}
	b.WriteString("\n")
	return b.String()
}
