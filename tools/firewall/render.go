// SPDX-License-Identifier: Apache-2.0

package firewall

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"maps"
	"math/bits"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// Expr is an expression of a rule that the text does not render, named
// and shown as the library decoded it.
type Expr struct {
	Kind   string `json:"kind" jsonschema_description:"The expression's kind, as google/nftables names it (match, target, nat, ...)."`
	Detail string `json:"detail" jsonschema_description:"Its decoded fields."`
}

// valueKind says how a register's value is written.
type valueKind int

const (
	kindRaw valueKind = iota
	kindAddr
	kindPort
	kindIfname
	kindL4proto
	kindNfproto
	kindCtState
	kindEtherType
	kindUint32
	kindImmediate // a constant loaded into the register; name is its value
)

// field is what a register holds: the field it was loaded from, and the
// mask applied to it since.
type field struct {
	name string
	kind valueKind
	mask []byte
	data []byte // kindImmediate's value
}

// renderer renders one rule's expressions in order, as nft would: loads
// into registers, then comparisons on them.
type renderer struct {
	family nftables.TableFamily
	regs   map[uint32]field
	nh     string // "ip" or "ip6" once known
	l4     string // "tcp", "udp"... once known
	parts  []string
	other  []Expr
	// Packets and bytes of the rule's counter, if it has one.
	counter *expr.Counter
	// pending are the loads no expression has used yet, by register: a
	// load never used is listed as unrendered, not dropped.
	pending map[uint32]expr.Any
}

// renderRule renders exprs, the expressions of a rule in a table of
// family fam: the text, the expressions it could not render (also named
// in the text, in brackets), and the counter.
func renderRule(fam nftables.TableFamily, exprs []expr.Any) (string, []Expr, *expr.Counter) {
	r := renderer{family: fam, regs: map[uint32]field{}, pending: map[uint32]expr.Any{}}
	switch fam {
	case nftables.TableFamilyIPv4:
		r.nh = "ip"
	case nftables.TableFamilyIPv6:
		r.nh = "ip6"
	}
	for _, e := range exprs {
		r.expr(e)
	}
	regs := slices.Sorted(maps.Keys(r.pending))
	for _, reg := range regs {
		r.unrendered(r.pending[reg])
	}
	return strings.Join(r.parts, " "), r.other, r.counter
}

// unrendered records e as not rendered.
func (r *renderer) unrendered(e any) {
	kind := strings.ToLower(reflect.TypeOf(e).Elem().Name())
	if kind == "" {
		kind = fmt.Sprintf("%T", e)
	}
	r.other = append(r.other, Expr{Kind: kind, Detail: detail(e)})
	r.parts = append(r.parts, "["+kind+"]")
}

// load records that e loaded field f into register reg.
func (r *renderer) load(reg uint32, f field, e expr.Any) {
	if old, ok := r.pending[reg]; ok {
		r.unrendered(old) // overwritten before any use
	}
	r.regs[reg], r.pending[reg] = f, e
}

// use returns the field in register reg, marking its load used.
func (r *renderer) use(reg uint32) (field, bool) {
	f, ok := r.regs[reg]
	delete(r.pending, reg)
	return f, ok
}

func (r *renderer) expr(e expr.Any) {
	switch e := e.(type) {
	case *expr.Meta:
		if e.SourceRegister {
			f, ok := r.use(e.Register)
			if !ok || f.kind != kindImmediate {
				r.unrendered(e)
				return
			}
			m := metaField(e.Key)
			r.parts = append(r.parts, m.name+" set "+value(m.kind, f.data))
			return
		}
		r.load(e.Register, metaField(e.Key), e)
	case *expr.Immediate:
		if e.Register == 0 {
			r.unrendered(e) // a verdict the library did not decode
			return
		}
		r.load(e.Register, field{name: "0x" + hex.EncodeToString(e.Data), kind: kindImmediate, data: e.Data}, e)
	case *expr.Payload:
		if e.OperationType != expr.PayloadLoad {
			r.unrendered(e)
			return
		}
		r.load(e.DestRegister, r.payloadField(e), e)
	case *expr.Ct:
		if e.SourceRegister {
			r.unrendered(e)
			return
		}
		f := field{name: "ct " + ctKeyName(e.Key), kind: kindRaw}
		if e.Key == expr.CtKeySTATE {
			f.kind = kindCtState
		}
		r.load(e.Register, f, e)
	case *expr.Bitwise:
		f, ok := r.use(e.SourceRegister)
		if !ok || len(e.Xor) > 0 && !allZero(e.Xor) {
			r.unrendered(e)
			return
		}
		f.mask = e.Mask
		r.load(e.DestRegister, f, e)
	case *expr.Cmp:
		f, ok := r.use(e.Register)
		if !ok {
			r.unrendered(e)
			return
		}
		r.cmp(f, e.Op, e.Data)
	case *expr.Range:
		f, ok := r.use(e.Register)
		if !ok {
			r.unrendered(e)
			return
		}
		op := ""
		if e.Op == expr.CmpOpNeq {
			op = "!= "
		}
		r.parts = append(r.parts, fmt.Sprintf("%s %s%s-%s", f.name, op, value(f.kind, e.FromData), value(f.kind, e.ToData)))
	case *expr.Lookup:
		f, ok := r.use(e.SourceRegister)
		if !ok || e.IsDestRegSet {
			r.unrendered(e)
			return
		}
		op := ""
		if e.Invert {
			op = "!= "
		}
		set := "@" + ident(e.SetName)
		if strings.HasPrefix(e.SetName, "__set") {
			set += " (anonymous set)"
		}
		r.parts = append(r.parts, fmt.Sprintf("%s %s%s", f.name, op, set))
	case *expr.Counter:
		r.counter = e
		r.parts = append(r.parts, fmt.Sprintf("counter packets %d bytes %d", e.Packets, e.Bytes))
	case *expr.Verdict:
		r.parts = append(r.parts, verdictText(e))
	case *expr.Reject:
		switch e.Type {
		case 1: // NFT_REJECT_TCP_RST
			r.parts = append(r.parts, "reject with tcp reset")
		default:
			r.parts = append(r.parts, "reject")
		}
	case *expr.Log:
		s := "log"
		if len(e.Data) > 0 {
			s += " prefix " + strconv.Quote(strings.TrimRight(string(e.Data), "\x00"))
		}
		r.parts = append(r.parts, s)
	case *expr.Limit:
		r.parts = append(r.parts, fmt.Sprintf("limit rate %d/%s", e.Rate, limitUnit(e.Unit)))
	case *expr.Masq:
		r.parts = append(r.parts, "masquerade")
	case *expr.Match:
		r.parts = append(r.parts, fmt.Sprintf("xt match %q", e.Name))
		r.other = append(r.other, Expr{Kind: "match", Detail: fmt.Sprintf("iptables extension %q revision %d: %s", e.Name, e.Rev, detail(e.Info))})
	case *expr.Target:
		r.parts = append(r.parts, fmt.Sprintf("xt target %q", e.Name))
		r.other = append(r.other, Expr{Kind: "target", Detail: fmt.Sprintf("iptables extension %q revision %d: %s", e.Name, e.Rev, detail(e.Info))})
	default:
		r.unrendered(e)
	}
}

// cmp renders a comparison of field f with data.
func (r *renderer) cmp(f field, op expr.CmpOp, data []byte) {
	if f.kind == kindCtState && f.mask != nil {
		// ct state established,related: (state & mask) != 0.
		neg := ""
		if op == expr.CmpOpEq && allZero(data) {
			neg = "!= "
		} else if op != expr.CmpOpNeq || !allZero(data) {
			r.parts = append(r.parts, fmt.Sprintf("%s & %s %s %s", f.name, ctStates(f.mask), cmpOp(op), value(f.kind, data)))
			return
		}
		r.parts = append(r.parts, fmt.Sprintf("%s %s%s", f.name, neg, ctStates(f.mask)))
		return
	}
	v := value(f.kind, data)
	if f.kind == kindAddr && f.mask != nil {
		if p, ok := prefixLen(f.mask); ok {
			v = fmt.Sprintf("%s/%d", addrValue(data), p)
		} else {
			v = fmt.Sprintf("%s & %s == %s", f.name, hex.EncodeToString(f.mask), hex.EncodeToString(data))
			r.parts = append(r.parts, v)
			return
		}
	} else if f.kind == kindAddr && (len(data) < 4 || len(data) > 4 && len(data) < 16) {
		// A prefix match on whole bytes: the payload is loaded short.
		size := 4
		if r.nh == "ip6" || len(data) > 4 {
			size = 16
		}
		full := make([]byte, size)
		copy(full, data)
		v = fmt.Sprintf("%s/%d", addrValue(full), 8*len(data))
	} else if f.mask != nil {
		v = fmt.Sprintf("& 0x%s == %s", hex.EncodeToString(f.mask), v)
	}
	if op == expr.CmpOpEq {
		switch {
		case f.kind == kindL4proto:
			r.l4 = l4Name(data)
		case f.kind == kindNfproto && len(data) == 1 && data[0] == 2:
			r.nh = "ip"
		case f.kind == kindNfproto && len(data) == 1 && data[0] == 10:
			r.nh = "ip6"
		}
	}
	if op == expr.CmpOpEq {
		r.parts = append(r.parts, f.name+" "+v)
		return
	}
	// nft compiles a range as >= and <=: write it as one.
	if n := len(r.parts); op == expr.CmpOpLte && n > 0 {
		if lo, ok := strings.CutPrefix(r.parts[n-1], f.name+" >= "); ok && !strings.Contains(lo, " ") {
			r.parts[n-1] = f.name + " " + lo + "-" + v
			return
		}
	}
	r.parts = append(r.parts, f.name+" "+cmpOp(op)+" "+v)
}

// payloadField names a payload load.
func (r *renderer) payloadField(p *expr.Payload) field {
	switch p.Base {
	case expr.PayloadBaseNetworkHeader:
		switch r.nh {
		case "ip":
			switch {
			case p.Offset == 12 && p.Len <= 4:
				return field{name: "ip saddr", kind: kindAddr}
			case p.Offset == 16 && p.Len <= 4:
				return field{name: "ip daddr", kind: kindAddr}
			case p.Offset == 9 && p.Len == 1:
				return field{name: "ip protocol", kind: kindL4proto}
			}
		case "ip6":
			switch {
			case p.Offset == 8 && p.Len <= 16:
				return field{name: "ip6 saddr", kind: kindAddr}
			case p.Offset == 24 && p.Len <= 16:
				return field{name: "ip6 daddr", kind: kindAddr}
			case p.Offset == 6 && p.Len == 1:
				return field{name: "ip6 nexthdr", kind: kindL4proto}
			}
		}
		return field{name: fmt.Sprintf("@nh,%d,%d", 8*p.Offset, 8*p.Len)}
	case expr.PayloadBaseTransportHeader:
		l4 := r.l4
		if l4 != "tcp" && l4 != "udp" && l4 != "sctp" && l4 != "udplite" {
			l4 = "th"
		}
		switch {
		case p.Offset == 0 && p.Len == 2:
			return field{name: l4 + " sport", kind: kindPort}
		case p.Offset == 2 && p.Len == 2:
			return field{name: l4 + " dport", kind: kindPort}
		}
		return field{name: fmt.Sprintf("@th,%d,%d", 8*p.Offset, 8*p.Len)}
	}
	return field{name: fmt.Sprintf("@ll,%d,%d", 8*p.Offset, 8*p.Len)}
}

// metaFields are the meta keys the text names.
var metaFields = map[expr.MetaKey]field{
	expr.MetaKeyIIFNAME: {name: "iifname", kind: kindIfname}, expr.MetaKeyOIFNAME: {name: "oifname", kind: kindIfname},
	expr.MetaKeyL4PROTO: {name: "meta l4proto", kind: kindL4proto}, expr.MetaKeyNFPROTO: {name: "meta nfproto", kind: kindNfproto},
	expr.MetaKeyPROTOCOL: {name: "meta protocol", kind: kindEtherType}, expr.MetaKeyMARK: {name: "meta mark", kind: kindUint32},
	expr.MetaKeyIIF: {name: "iif", kind: kindUint32}, expr.MetaKeyOIF: {name: "oif", kind: kindUint32},
	expr.MetaKeySKUID: {name: "meta skuid", kind: kindUint32}, expr.MetaKeySKGID: {name: "meta skgid", kind: kindUint32},
	expr.MetaKeyPKTTYPE: {name: "meta pkttype"},
}

// metaField names a meta load.
func metaField(k expr.MetaKey) field {
	if f, ok := metaFields[k]; ok {
		return f
	}
	return field{name: fmt.Sprintf("meta key %d", k)}
}

// ctKeys are the conntrack keys the text names.
var ctKeys = map[expr.CtKey]string{
	expr.CtKeySTATE: "state", expr.CtKeyDIRECTION: "direction", expr.CtKeySTATUS: "status",
	expr.CtKeyMARK: "mark", expr.CtKeyEXPIRATION: "expiration",
}

// ctKeyName names a conntrack key.
func ctKeyName(k expr.CtKey) string {
	if n, ok := ctKeys[k]; ok {
		return n
	}
	return fmt.Sprintf("key %d", k)
}

// value writes data as a value of kind k.
func value(k valueKind, data []byte) string {
	switch k {
	case kindAddr:
		if len(data) == 4 || len(data) == 16 {
			return addrValue(data)
		}
	case kindPort:
		if len(data) == 2 {
			return strconv.Itoa(int(binary.BigEndian.Uint16(data)))
		}
	case kindIfname:
		s := strings.TrimRight(string(data), "\x00")
		if len(s) < len(data) {
			return strconv.Quote(s)
		}
		return strconv.Quote(s + "*") // a prefix match: no terminating NUL compared
	case kindL4proto:
		return l4Name(data)
	case kindNfproto:
		if len(data) == 1 {
			switch data[0] {
			case 2:
				return "ipv4"
			case 10:
				return "ipv6"
			}
		}
	case kindEtherType:
		if len(data) == 2 {
			switch binary.BigEndian.Uint16(data) {
			case 0x0800:
				return "ip"
			case 0x86dd:
				return "ip6"
			case 0x0806:
				return "arp"
			}
		}
	case kindCtState:
		if len(data) == 4 {
			return ctStates(data)
		}
	case kindUint32:
		if len(data) == 4 {
			return strconv.FormatUint(uint64(binary.NativeEndian.Uint32(data)), 10)
		}
	}
	return "0x" + hex.EncodeToString(data)
}

// addrValue writes a 4- or 16-byte address.
func addrValue(data []byte) string {
	a, ok := netip.AddrFromSlice(data)
	if !ok {
		return "0x" + hex.EncodeToString(data)
	}
	return a.String()
}

// prefixLen returns the prefix length of a contiguous network mask.
func prefixLen(mask []byte) (int, bool) {
	n, done := 0, false
	for _, b := range mask {
		ones := bits.LeadingZeros8(^b)
		if done && b != 0 || ones < 8 && b<<ones != 0 {
			return 0, false
		}
		n += ones
		if ones < 8 {
			done = true
		}
	}
	return n, true
}

// l4Name names an IP protocol number.
func l4Name(data []byte) string {
	if len(data) != 1 {
		return "0x" + hex.EncodeToString(data)
	}
	switch data[0] {
	case 1:
		return "icmp"
	case 6:
		return "tcp"
	case 17:
		return "udp"
	case 58:
		return "icmpv6"
	case 132:
		return "sctp"
	case 136:
		return "udplite"
	}
	return strconv.Itoa(int(data[0]))
}

// ctStateBits are the conntrack state bits, in nft's order.
var ctStateBits = []struct {
	bit  uint32
	name string
}{{8, "new"}, {2, "established"}, {4, "related"}, {1, "invalid"}, {64, "untracked"}}

// ctStates names the conntrack states in a host-endian 4-byte mask.
func ctStates(mask []byte) string {
	if len(mask) != 4 {
		return "0x" + hex.EncodeToString(mask)
	}
	m := binary.NativeEndian.Uint32(mask)
	var names []string
	for _, s := range ctStateBits {
		if m&s.bit != 0 {
			names = append(names, s.name)
			m &^= s.bit
		}
	}
	if m != 0 {
		names = append(names, fmt.Sprintf("0x%x", m))
	}
	if len(names) == 0 {
		return "0"
	}
	return strings.Join(names, ",")
}

// cmpOp writes a comparison operator.
func cmpOp(op expr.CmpOp) string {
	switch op {
	case expr.CmpOpEq:
		return "=="
	case expr.CmpOpNeq:
		return "!="
	case expr.CmpOpLt:
		return "<"
	case expr.CmpOpLte:
		return "<="
	case expr.CmpOpGt:
		return ">"
	case expr.CmpOpGte:
		return ">="
	}
	return fmt.Sprintf("op%d", op)
}

// verdictText writes a verdict.
func verdictText(v *expr.Verdict) string {
	switch v.Kind {
	case expr.VerdictAccept:
		return "accept"
	case expr.VerdictDrop:
		return "drop"
	case expr.VerdictReturn:
		return "return"
	case expr.VerdictContinue:
		return "continue"
	case expr.VerdictQueue:
		return "queue"
	case expr.VerdictStolen:
		return "stolen"
	case expr.VerdictJump:
		return "jump " + ident(v.Chain)
	case expr.VerdictGoto:
		return "goto " + ident(v.Chain)
	}
	return fmt.Sprintf("verdict %d", v.Kind)
}

// limitUnit names a limit's time unit.
func limitUnit(u expr.LimitTime) string {
	switch u {
	case expr.LimitTimeSecond:
		return "second"
	case expr.LimitTimeMinute:
		return "minute"
	case expr.LimitTimeHour:
		return "hour"
	case expr.LimitTimeDay:
		return "day"
	case expr.LimitTimeWeek:
		return "week"
	}
	return strconv.Itoa(int(u))
}

// ident writes a name from the kernel (a chain's, a set's) as it is when
// it is printable UTF-8 without spaces, else quoted.
func ident(s string) string {
	if s != "" && utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool { return !unicode.IsPrint(r) || unicode.IsSpace(r) || r == '"' }) {
		return s
	}
	return strconv.Quote(s)
}

// maxDetail bounds an unrendered expression's detail.
const maxDetail = 512

// detail writes an expression's decoded fields, bounded.
func detail(e any) string {
	s := strings.TrimPrefix(fmt.Sprintf("%+v", e), "&")
	if len(s) > maxDetail {
		s = s[:maxDetail] + "…"
	}
	return s
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}
