// SPDX-License-Identifier: Apache-2.0

package firewall

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"

	"github.com/tailops/tailops/tools"
)

// OwnTable is the name of TailOps' own table, of family inet: the only
// table the firewall tools edit.
const OwnTable = "tailops"

// ownChains are the base chains of TailOps' table, by hook name.
var ownChains = []string{"input", "forward", "output"}

// AddRuleArgs are add_firewall_rule's arguments: one structured rule.
type AddRuleArgs struct {
	Table        string   `json:"table,omitempty" jsonschema_description:"Must be empty or TailOps' own table (\"inet tailops\"): no other table is ever edited."`
	Chain        string   `json:"chain" jsonschema:"enum=input,enum=forward,enum=output" jsonschema_description:"The base chain of table inet tailops the rule goes to (appended)."`
	Family       string   `json:"family,omitempty" jsonschema:"enum=inet,enum=ip,enum=ip6" jsonschema_description:"ip or ip6 restricts the rule to IPv4 or IPv6; default inet (both), or the family of the addresses given."`
	Protocol     string   `json:"protocol,omitempty" jsonschema:"enum=tcp,enum=udp,enum=icmp,enum=icmpv6" jsonschema_description:"Layer 4 protocol; required with ports."`
	Source       string   `json:"source,omitempty" jsonschema_description:"Source address or CIDR (10.0.0.0/8, 2001:db8::/32)."`
	Destination  string   `json:"destination,omitempty" jsonschema_description:"Destination address or CIDR."`
	SourcePort   string   `json:"sport,omitempty" jsonschema_description:"Source port or range (\"53\", \"1024-65535\"); needs protocol tcp or udp."`
	DestPort     string   `json:"dport,omitempty" jsonschema_description:"Destination port or range (\"22\", \"8000-8100\"); needs protocol tcp or udp."`
	InInterface  string   `json:"in_interface,omitempty" jsonschema_description:"Input interface name (input and forward chains)."`
	OutInterface string   `json:"out_interface,omitempty" jsonschema_description:"Output interface name (output and forward chains)."`
	CtState      []string `json:"ct_state,omitempty" jsonschema_description:"Conntrack states, any of: new, established, related, invalid, untracked."`
	Verdict      string   `json:"verdict" jsonschema:"enum=accept,enum=drop,enum=reject" jsonschema_description:"reject answers TCP with a reset and anything else with ICMP port unreachable."`
	Note         string   `json:"note,omitempty" jsonschema_description:"A short note kept in the rule's comment beside its id, at most 64 printable characters."`
}

// AddRuleResult is what add_firewall_rule did.
type AddRuleResult struct {
	Table  string `json:"table"`
	Chain  string `json:"chain"`
	Handle uint64 `json:"handle"`
	ID     string `json:"id" jsonschema_description:"The rule's id, kept in its comment; delete_firewall_rule takes it or the handle."`
	Text   string `json:"text" jsonschema_description:"The rule as added, in nft's syntax."`
}

// DeleteRuleArgs are delete_firewall_rule's arguments.
type DeleteRuleArgs struct {
	Table  string `json:"table,omitempty" jsonschema_description:"Must be empty or TailOps' own table (\"inet tailops\")."`
	Handle uint64 `json:"handle,omitempty" jsonschema_description:"The rule's handle in table inet tailops (get_firewall_rules lists it)."`
	ID     string `json:"id,omitempty" jsonschema_description:"The id add_firewall_rule returned; give it or the handle (or both: they must name the same rule)."`
}

// DeleteRuleResult is what delete_firewall_rule did.
type DeleteRuleResult struct {
	Table   string `json:"table"`
	Chain   string `json:"chain"`
	Handle  uint64 `json:"handle"`
	ID      string `json:"id,omitempty"`
	Deleted string `json:"deleted" jsonschema_description:"The rule that was deleted, in nft's syntax."`
}

// Protections are what no drop or reject rule may cut: the tailnet
// interfaces, TailOps' own TCP listener ports and the Tailscale UDP ports.
type Protections struct {
	Interfaces []string
	TCPPorts   []uint16
	UDPPorts   []uint16
}

// compiled is a validated rule, ready to add.
type compiled struct {
	chain string
	exprs []expr.Any
}

// RefusedError is a rule refused for what it would cut off.
type RefusedError struct{ Reason string }

func (e *RefusedError) Error() string { return "rule refused: " + e.Reason }

// portRange is an inclusive port range.
type portRange struct{ lo, hi uint16 }

func (r *portRange) covers(p uint16) bool { return r != nil && r.lo <= p && p <= r.hi }

// ctStateNames are the conntrack states a rule may match, with their bits.
var ctStateNames = map[string]uint32{"invalid": 1, "established": 2, "related": 4, "new": 8, "untracked": 64}

// checkTable checks a table argument: empty, or TailOps' own table.
func checkTable(t string) error {
	switch strings.Join(strings.Fields(t), " ") {
	case "", OwnTable, "inet " + OwnTable:
		return nil
	}
	return &RefusedError{Reason: fmt.Sprintf("TailOps edits only its own table, inet %s; %q is not it (other tables belong to "+
		"whoever made them: nft, iptables, ufw, firewalld, Docker)", OwnTable, t)}
}

// checkIfname checks an interface name as the kernel would take it.
func checkIfname(n string) error {
	if n == "" || len(n) > 15 {
		return errors.New("must be 1 to 15 bytes")
	}
	for _, r := range n {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '.' || r == '-') {
			return fmt.Errorf("has %q, which is not allowed in an interface name (letters, digits, _ . -)", r)
		}
	}
	return nil
}

// parsePorts parses "N" or "N-M".
func parsePorts(arg, s string) (*portRange, error) {
	if s == "" {
		return nil, nil
	}
	lo, hi, isRange := strings.Cut(s, "-")
	if !isRange {
		hi = lo
	}
	a, err1 := strconv.ParseUint(lo, 10, 16)
	b, err2 := strconv.ParseUint(hi, 10, 16)
	if err1 != nil || err2 != nil || a == 0 || b == 0 {
		return nil, tools.ArgErrorf(arg, "%q is not a port (1-65535) or a range of them (1024-65535)", s)
	}
	if a > b {
		return nil, tools.ArgErrorf(arg, "%q is an empty range", s)
	}
	return &portRange{uint16(a), uint16(b)}, nil
}

// parseAddr parses an address or CIDR, masked to its prefix.
func parseAddr(arg, s string) (netip.Prefix, error) {
	if s == "" {
		return netip.Prefix{}, nil
	}
	var p netip.Prefix
	var err error
	if strings.Contains(s, "/") {
		p, err = netip.ParsePrefix(s)
	} else {
		var a netip.Addr
		if a, err = netip.ParseAddr(s); err == nil {
			p = netip.PrefixFrom(a, a.BitLen())
		}
	}
	if err != nil || p.Addr().Zone() != "" {
		return netip.Prefix{}, tools.ArgErrorf(arg, "%q is not an IP address or CIDR", s)
	}
	if p.Addr().Is4In6() {
		return netip.Prefix{}, tools.ArgErrorf(arg, "%q is an IPv4-mapped IPv6 address: give the IPv4 address", s)
	}
	return p.Masked(), nil
}

// Compile validates a structured rule against the protections and
// compiles it into nftables expressions for table inet tailops. Its
// errors are argument errors (tools.ArgError) or refusals (RefusedError).
func Compile(p Protections, in AddRuleArgs) (chain string, exprs []expr.Any, err error) {
	c, err := compile(p, in)
	if err != nil {
		return "", nil, err
	}
	return c.chain, c.exprs, nil
}

func compile(p Protections, in AddRuleArgs) (*compiled, error) {
	if err := checkTable(in.Table); err != nil {
		return nil, err
	}
	if !slices.Contains(ownChains, in.Chain) {
		return nil, tools.ArgErrorf("chain", "must be input, forward or output, not %q", in.Chain)
	}
	verdict := in.Verdict
	if verdict != "accept" && verdict != "drop" && verdict != "reject" {
		return nil, tools.ArgErrorf("verdict", "must be accept, drop or reject, not %q", in.Verdict)
	}
	if len(in.Note) > 64 || !utf8.ValidString(in.Note) ||
		strings.ContainsFunc(in.Note, func(r rune) bool { return !unicode.IsPrint(r) || r == '"' || r == '\\' }) {
		return nil, tools.ArgErrorf("note", "must be at most 64 printable characters, without quotes or backslashes")
	}
	// Family: given, or the addresses'.
	fam := in.Family
	if fam != "" && fam != "inet" && fam != "ip" && fam != "ip6" {
		return nil, tools.ArgErrorf("family", "must be inet, ip or ip6, not %q", in.Family)
	}
	src, err := parseAddr("source", in.Source)
	if err != nil {
		return nil, err
	}
	dst, err := parseAddr("destination", in.Destination)
	if err != nil {
		return nil, err
	}
	for _, a := range []struct {
		name string
		p    netip.Prefix
	}{{"source", src}, {"destination", dst}} {
		if !a.p.IsValid() {
			continue
		}
		af := "ip"
		if a.p.Addr().Is6() {
			af = "ip6"
		}
		switch fam {
		case "", "inet":
			fam = af
		case af:
		default:
			return nil, tools.ArgErrorf(a.name, "%s is not an address of family %s (the rule's family, or the other address's)", a.p, fam)
		}
	}
	switch in.Protocol {
	case "", "tcp", "udp":
	case "icmp":
		if fam == "ip6" {
			return nil, tools.ArgErrorf("protocol", "icmp is IPv4's; use icmpv6 for family ip6")
		}
	case "icmpv6":
		if fam == "ip" {
			return nil, tools.ArgErrorf("protocol", "icmpv6 is IPv6's; use icmp for family ip")
		}
	default:
		return nil, tools.ArgErrorf("protocol", "must be tcp, udp, icmp or icmpv6, not %q", in.Protocol)
	}
	sport, err := parsePorts("sport", in.SourcePort)
	if err != nil {
		return nil, err
	}
	dport, err := parsePorts("dport", in.DestPort)
	if err != nil {
		return nil, err
	}
	if (sport != nil || dport != nil) && in.Protocol != "tcp" && in.Protocol != "udp" {
		return nil, tools.ArgErrorf("protocol", "ports need protocol tcp or udp")
	}
	if in.InInterface != "" {
		if in.Chain == "output" {
			return nil, tools.ArgErrorf("in_interface", "the output chain has no input interface")
		}
		if err := checkIfname(in.InInterface); err != nil {
			return nil, tools.ArgErrorf("in_interface", "%q %v", in.InInterface, err)
		}
	}
	if in.OutInterface != "" {
		if in.Chain == "input" {
			return nil, tools.ArgErrorf("out_interface", "the input chain has no output interface")
		}
		if err := checkIfname(in.OutInterface); err != nil {
			return nil, tools.ArgErrorf("out_interface", "%q %v", in.OutInterface, err)
		}
	}
	var ctMask uint32
	for _, s := range in.CtState {
		bit, ok := ctStateNames[s]
		if !ok {
			return nil, tools.ArgErrorf("ct_state", "%q is not a conntrack state (new, established, related, invalid, untracked)", s)
		}
		if ctMask&bit != 0 {
			return nil, tools.ArgErrorf("ct_state", "%q is given twice", s)
		}
		ctMask |= bit
	}
	narrowed := narrows(src) || (in.Chain == "output" && narrows(dst))
	if verdict != "accept" {
		if err := p.check(in, sport, dport, narrowed, ctMask); err != nil {
			return nil, err
		}
	}

	// The expressions, in nft's order.
	var e []expr.Any
	cmpEq := func(data []byte) *expr.Cmp { return &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: data} }
	switch fam {
	case "ip":
		e = append(e, &expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1}, cmpEq([]byte{unix.NFPROTO_IPV4}))
	case "ip6":
		e = append(e, &expr.Meta{Key: expr.MetaKeyNFPROTO, Register: 1}, cmpEq([]byte{unix.NFPROTO_IPV6}))
	}
	if verdict != "accept" {
		// Never on the tailnet: a drop or reject rule skips the tailnet
		// interfaces whatever else it matches.
		for _, i := range p.Interfaces {
			if in.Chain != "output" {
				e = append(e, &expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1}, &expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ifname(i)})
			}
			if in.Chain != "input" {
				e = append(e, &expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1}, &expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: ifname(i)})
			}
		}
	}
	if in.InInterface != "" {
		e = append(e, &expr.Meta{Key: expr.MetaKeyIIFNAME, Register: 1}, cmpEq(ifname(in.InInterface)))
	}
	if in.OutInterface != "" {
		e = append(e, &expr.Meta{Key: expr.MetaKeyOIFNAME, Register: 1}, cmpEq(ifname(in.OutInterface)))
	}
	e = append(e, addrMatch(src, true)...)
	e = append(e, addrMatch(dst, false)...)
	if in.Protocol != "" {
		e = append(e, &expr.Meta{Key: expr.MetaKeyL4PROTO, Register: 1}, cmpEq([]byte{protoNumber[in.Protocol]}))
	}
	e = append(e, portMatch(sport, 0)...)
	e = append(e, portMatch(dport, 2)...)
	if verdict != "accept" && !narrowed {
		// A rule addresses narrow is the owner's choice about those
		// hosts, as check lets it be: all of their traffic.
		e = append(e, p.ownPorts(in, sport, dport)...)
	}
	if ctMask != 0 {
		mask := binary.NativeEndian.AppendUint32(nil, ctMask)
		e = append(e, &expr.Ct{Key: expr.CtKeySTATE, Register: 1},
			&expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: 4, Mask: mask, Xor: make([]byte, 4)},
			&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: make([]byte, 4)})
	}
	e = append(e, &expr.Counter{})
	switch verdict {
	case "accept":
		e = append(e, &expr.Verdict{Kind: expr.VerdictAccept})
	case "drop":
		e = append(e, &expr.Verdict{Kind: expr.VerdictDrop})
	case "reject":
		if in.Protocol == "tcp" {
			e = append(e, &expr.Reject{Type: unix.NFT_REJECT_TCP_RST})
		} else {
			e = append(e, &expr.Reject{Type: unix.NFT_REJECT_ICMPX_UNREACH, Code: unix.NFT_REJECT_ICMPX_PORT_UNREACH})
		}
	}
	return &compiled{chain: in.Chain, exprs: e}, nil
}

// ownPorts are the matches that keep a drop or reject rule off
// TailOps' and Tailscale's own ports, whatever else it matches: in the
// input chain packets to them, in the output chain packets from them.
// The refusal in check covers a rule whose own port match names them;
// this covers the other end's port (a peer's WireGuard packets come from
// any port to ours, and go from ours to any port).
// A rule that matches that port itself needs none: check refused it if
// its range covers one of them.
func (p Protections) ownPorts(in AddRuleArgs, sport, dport *portRange) []expr.Any {
	var off uint32
	switch {
	case in.Chain == "input" && dport == nil:
		off = 2 // destination port
	case in.Chain == "output" && sport == nil:
		off = 0 // source port
	default:
		return nil
	}
	var e []expr.Any
	for _, pp := range []struct {
		proto string
		ports []uint16
	}{{"tcp", p.TCPPorts}, {"udp", p.UDPPorts}} {
		if in.Protocol != "" && in.Protocol != pp.proto {
			continue
		}
		for _, port := range pp.ports {
			e = append(e, &expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: off, Len: 2},
				&expr.Cmp{Op: expr.CmpOpNeq, Register: 1, Data: binary.BigEndian.AppendUint16(nil, port)})
		}
	}
	return e
}

// check refuses a drop or reject rule that would cut TailOps off.
func (p Protections) check(in AddRuleArgs, sport, dport *portRange, hasAddr bool, ctMask uint32) error {
	for _, i := range []string{in.InInterface, in.OutInterface} {
		if i != "" && slices.Contains(p.Interfaces, i) {
			return &RefusedError{Reason: fmt.Sprintf("%s would %s traffic on %s, the tailnet interface, and cut TailOps off its tailnet", in.Verdict, in.Verdict, i)}
		}
	}
	if ctMask != 0 && ctMask&^ctStateNames["invalid"] == 0 {
		return nil // dropping invalid packets cuts nothing
	}
	check := func(proto string, ports []uint16, what string) error {
		if in.Protocol != "" && in.Protocol != proto {
			return nil
		}
		for _, port := range ports {
			switch {
			case dport.covers(port), sport.covers(port):
				return &RefusedError{Reason: fmt.Sprintf("the rule would %s %s port %d, %s", in.Verdict, strings.ToUpper(proto), port, what)}
			case dport == nil && sport == nil && !hasAddr:
				return &RefusedError{Reason: fmt.Sprintf("the rule would %s all %s traffic, %s port %d (%s) included: "+
					"narrow it with ports, a protocol or addresses", in.Verdict, cmpOr(in.Protocol, "TCP and UDP"), strings.ToUpper(proto), port, what)}
			}
		}
		return nil
	}
	if err := check("tcp", p.TCPPorts, "TailOps' own listener"); err != nil {
		return err
	}
	if err := check("udp", p.UDPPorts, "Tailscale's (WireGuard and disco)"); err != nil {
		return err
	}
	// The tailnet's own servers, whatever the mode: the coordination
	// server and the DERP relays on TCP 443, STUN on UDP 3478. Out to
	// them, and their answers in, unless addresses narrow the rule.
	if hasAddr {
		return nil
	}
	for _, c := range []struct {
		proto string
		port  uint16
		what  string
	}{{"tcp", 443, "the coordination server and the DERP relays"}, {"udp", 3478, "STUN"}} {
		if in.Protocol != "" && in.Protocol != c.proto {
			continue
		}
		if in.Chain == "output" && dport.covers(c.port) || in.Chain == "input" && sport.covers(c.port) {
			return &RefusedError{Reason: fmt.Sprintf("the rule would %s %s port %d of every host, which Tailscale reaches %s on: narrow it with addresses",
				in.Verdict, strings.ToUpper(c.proto), c.port, c.what)}
		}
	}
	return nil
}

// narrows reports whether an address match narrows a drop or reject rule
// enough to leave TailOps' ports alone without a port match: a source
// prefix of at least /8 (IPv4) or /16 (IPv6). 0.0.0.0/0 or ::/0, or a
// handful of wide prefixes, would cut the tailnet's WireGuard traffic on
// the physical interface as surely as no address at all. (A destination
// address narrows only in the output chain: in input and forward, it may
// be this host's own.)
func narrows(p netip.Prefix) bool {
	if !p.IsValid() {
		return false
	}
	if p.Addr().Is4() {
		return p.Bits() >= 8
	}
	return p.Bits() >= 16
}

func cmpOr(a, b string) string {
	if a != "" {
		return strings.ToUpper(a)
	}
	return b
}

// protoNumber are the IP protocol numbers of the protocols a rule names.
var protoNumber = map[string]byte{"tcp": unix.IPPROTO_TCP, "udp": unix.IPPROTO_UDP, "icmp": unix.IPPROTO_ICMP, "icmpv6": unix.IPPROTO_ICMPV6}

// ifname is an interface name as meta iifname compares it: NUL-padded
// to IFNAMSIZ.
func ifname(n string) []byte {
	b := make([]byte, unix.IFNAMSIZ)
	copy(b, n)
	return b
}

// addrMatch matches the source or destination address against p (none
// when p is not valid).
func addrMatch(p netip.Prefix, source bool) []expr.Any {
	if !p.IsValid() {
		return nil
	}
	a := p.Addr().AsSlice()
	off := uint32(16)
	switch {
	case p.Addr().Is4() && source:
		off = 12
	case p.Addr().Is6() && source:
		off = 8
	case p.Addr().Is6():
		off = 24
	}
	e := []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: uint32(len(a))}}
	if p.Bits() < p.Addr().BitLen() {
		m := make([]byte, len(a))
		for i := 0; i < p.Bits(); i++ {
			m[i/8] |= 0x80 >> (i % 8)
		}
		e = append(e, &expr.Bitwise{SourceRegister: 1, DestRegister: 1, Len: uint32(len(a)), Mask: m, Xor: make([]byte, len(a))})
	}
	return append(e, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: a})
}

// portMatch matches the transport header's port at off (0 source, 2
// destination) against r (none when r is nil).
func portMatch(r *portRange, off uint32) []expr.Any {
	if r == nil {
		return nil
	}
	e := []expr.Any{&expr.Payload{DestRegister: 1, Base: expr.PayloadBaseTransportHeader, Offset: off, Len: 2}}
	lo, hi := binary.BigEndian.AppendUint16(nil, r.lo), binary.BigEndian.AppendUint16(nil, r.hi)
	if r.lo == r.hi {
		return append(e, &expr.Cmp{Op: expr.CmpOpEq, Register: 1, Data: lo})
	}
	return append(e, &expr.Range{Op: expr.CmpOpEq, Register: 1, FromData: lo, ToData: hi})
}
