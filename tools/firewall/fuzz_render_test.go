// SPDX-License-Identifier: Apache-2.0

package firewall

import (
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/google/nftables"
	"github.com/google/nftables/expr"
)

// renderKinds are the expressions FuzzRenderRule decodes, by kind byte.
var renderKinds = []func() expr.Any{
	func() expr.Any { return &expr.Meta{} }, func() expr.Any { return &expr.Payload{} },
	func() expr.Any { return &expr.Cmp{} }, func() expr.Any { return &expr.Bitwise{} },
	func() expr.Any { return &expr.Range{} }, func() expr.Any { return &expr.Lookup{} },
	func() expr.Any { return &expr.Ct{} }, func() expr.Any { return &expr.Counter{} },
	func() expr.Any { return &expr.Verdict{} }, func() expr.Any { return &expr.Immediate{} },
	func() expr.Any { return &expr.Reject{} }, func() expr.Any { return &expr.Log{} },
	func() expr.Any { return &expr.Limit{} }, func() expr.Any { return &expr.Exthdr{} },
}

// encodeExprs writes exprs as FuzzRenderRule reads them: per expression a
// kind byte, a little-endian length and the expression's netlink
// attributes, as the kernel sends them.
func encodeExprs(t testing.TB, exprs []expr.Any) []byte {
	var out []byte
	for _, e := range exprs {
		kind := -1
		for i, k := range renderKinds {
			if reflect.TypeOf(k()) == reflect.TypeOf(e) {
				kind = i
			}
		}
		data, err := expr.MarshalExprData(byte(nftables.TableFamilyINet), e)
		if kind < 0 || err != nil {
			t.Fatalf("encoding %T: kind %d, %v", e, kind, err)
		}
		out = append(out, byte(kind))
		out = binary.LittleEndian.AppendUint16(out, uint16(len(data)))
		out = append(out, data...)
	}
	return out
}

// decodeExprs reads what encodeExprs writes, skipping what does not
// decode, or makes the library panic (which getRules turns into an error,
// see decodePanic: the renderer is what is fuzzed here).
func decodeExprs(b []byte) []expr.Any {
	var out []expr.Any
	for len(b) >= 3 {
		kind, n := int(b[0])%len(renderKinds), int(binary.LittleEndian.Uint16(b[1:3]))
		b = b[3:]
		if n > len(b) {
			n = len(b)
		}
		e := renderKinds[kind]()
		if unmarshal(b[:n], e) {
			out = append(out, e)
		}
		b = b[n:]
	}
	return out
}

// unmarshal decodes data into e, reporting whether it decoded (and did
// not panic).
func unmarshal(data []byte, e expr.Any) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	return expr.Unmarshal(byte(nftables.TableFamilyINet), data, e) == nil
}

// FuzzRenderRule renders rules decoded from netlink attributes, the
// kernel's answer, which any program on the host may have shaped: the
// renderer never panics, writes valid UTF-8, and accounts for every
// expression it does not render.
func FuzzRenderRule(f *testing.F) {
	p := Protections{Interfaces: []string{"tailscale0"}, TCPPorts: []uint16{8443}, UDPPorts: []uint16{41641}}
	for _, in := range []AddRuleArgs{
		{Chain: "input", Protocol: "tcp", DestPort: "22", Source: "10.0.0.0/8", Verdict: "accept"},
		{Chain: "output", Protocol: "udp", DestPort: "5000-5100", Destination: "2001:db8::/32", OutInterface: "eth0", CtState: []string{"new"}, Verdict: "reject"},
		{Chain: "forward", InInterface: "eth0", CtState: []string{"established", "related"}, Verdict: "accept"},
	} {
		_, exprs, err := Compile(p, in)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(encodeExprs(f, exprs))
	}
	f.Add(encodeExprs(f, []expr.Any{
		&expr.Immediate{Register: 1, Data: []byte{1, 0, 0, 0}}, &expr.Meta{Key: expr.MetaKeyMARK, SourceRegister: true, Register: 1},
		&expr.Lookup{SourceRegister: 1, SetName: "allowed"}, &expr.Verdict{Kind: expr.VerdictJump, Chain: "other"},
		&expr.Exthdr{DestRegister: 1, Type: 2, Offset: 2, Len: 2}, &expr.Limit{Rate: 5, Unit: expr.LimitTimeMinute},
	}))
	f.Fuzz(func(t *testing.T, b []byte) {
		exprs := decodeExprs(b)
		text, other, _ := renderRule(nftables.TableFamilyINet, exprs)
		if !utf8.ValidString(text) {
			t.Fatalf("text is not UTF-8: %q", text)
		}
		if len(exprs) > 0 && text == "" && len(other) == 0 {
			t.Fatalf("%d expressions rendered as nothing", len(exprs))
		}
		for _, o := range other {
			named := "[" + o.Kind + "]"
			if o.Kind == "match" || o.Kind == "target" {
				named = "xt " + o.Kind + " "
			}
			if !strings.Contains(text, named) {
				t.Fatalf("unrendered %s not named in %q", o.Kind, text)
			}
			if len(o.Detail) > maxDetail+len("…") {
				t.Fatalf("detail of %d bytes", len(o.Detail))
			}
		}
	})
}

// TestDecodePanicBecomesError: a panic while decoding the kernel's answer
// (the library's, as FuzzRenderRule found) is the call's error, not the
// server's end.
func TestDecodePanicBecomesError(t *testing.T) {
	read := func() (err error) {
		defer decodePanic("reading the ruleset", &err)
		panic("index out of range")
	}
	if err := read(); err == nil || !strings.Contains(err.Error(), "decoding the kernel's answer failed (index out of range)") {
		t.Errorf("err = %v", err)
	}
}
