// SPDX-License-Identifier: Apache-2.0

package diag

import (
	"cmp"
	"context"
	"net/netip"
	"strings"

	"github.com/miekg/dns"
	"golang.org/x/net/idna"

	"github.com/tailops/tailops/tools"
)

// dnsTypes are the record types dns_lookup asks for.
var dnsTypes = map[string]uint16{
	"A": dns.TypeA, "AAAA": dns.TypeAAAA, "CNAME": dns.TypeCNAME, "MX": dns.TypeMX, "TXT": dns.TypeTXT,
	"NS": dns.TypeNS, "SRV": dns.TypeSRV, "PTR": dns.TypePTR, "SOA": dns.TypeSOA, "CAA": dns.TypeCAA,
}

// dnsMaxRecords bounds the records listed per section.
const dnsMaxRecords = 100

// DNSArgs is dns_lookup's input.
type DNSArgs struct {
	Name      string `json:"name" jsonschema_description:"Name to look up; for PTR, an IP address works too."`
	Type      string `json:"type,omitempty" jsonschema:"enum=A,enum=AAAA,enum=CNAME,enum=MX,enum=TXT,enum=NS,enum=SRV,enum=PTR,enum=SOA,enum=CAA" jsonschema_description:"Record type; default A."`
	Resolver  string `json:"resolver,omitempty" jsonschema_description:"DNS server to ask, an IP address with an optional port (default 53); it must be allowed by the diagnostics policy. Default: the configured resolver."`
	TimeoutMS *int   `json:"timeout_ms,omitempty" jsonschema_description:"Milliseconds to wait for the answer, 100 to 10000; default 5000."`
}

// DNSRecord is one resource record.
type DNSRecord struct {
	Name string `json:"name"`
	Type string `json:"type"`
	TTL  uint32 `json:"ttl" jsonschema_description:"Seconds."`
	Data string `json:"data" jsonschema_description:"The record's data in zone-file syntax."`
}

// DNSResult is dns_lookup's output.
type DNSResult struct {
	Name               string      `json:"name" jsonschema_description:"The name asked for, fully qualified."`
	Type               string      `json:"type"`
	Resolver           string      `json:"resolver" jsonschema_description:"The server that answered, address:port."`
	Protocol           string      `json:"protocol" jsonschema:"enum=udp,enum=tcp" jsonschema_description:"tcp when the UDP answer was truncated."`
	Rcode              string      `json:"rcode" jsonschema_description:"Response code: NOERROR, NXDOMAIN, SERVFAIL, REFUSED..."`
	Authoritative      bool        `json:"authoritative"`
	RecursionAvailable bool        `json:"recursion_available"`
	AuthenticatedData  bool        `json:"authenticated_data" jsonschema_description:"The resolver validated the answer with DNSSEC (AD bit)."`
	QueryTimeMS        float64     `json:"query_time_ms"`
	Answers            []DNSRecord `json:"answers"`
	Authority          []DNSRecord `json:"authority" jsonschema_description:"The authority section: the zone's SOA for a negative answer, NS records for a referral."`
	Truncated          bool        `json:"truncated,omitempty" jsonschema_description:"More than 100 records in a section; the rest are left out."`
}

// dnsNames maps names to ASCII for queries. Unlike destination host
// names, query names may hold underscores (_sip._tcp.example.com).
var dnsNames = idna.New(idna.MapForLookup(), idna.StrictDomainName(false), idna.Transitional(false))

func (g *diag) dnsLookup(ctx context.Context, in DNSArgs) (DNSResult, error) {
	if strings.TrimSpace(in.Name) == "" {
		return DNSResult{}, tools.ArgErrorf("name", "is required")
	}
	typName := strings.ToUpper(cmp.Or(in.Type, "A"))
	qtype, ok := dnsTypes[typName]
	if !ok {
		return DNSResult{}, tools.ArgErrorf("type", "must be one of A, AAAA, CNAME, MX, TXT, NS, SRV, PTR, SOA, CAA; got %q", in.Type)
	}
	timeout, err := durationArg("timeout_ms", in.TimeoutMS, 5000, 100, 10000)
	if err != nil {
		return DNSResult{}, err
	}
	name, err := queryName(in.Name, qtype)
	if err != nil {
		return DNSResult{}, err
	}
	pol := g.policy
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(1232, false)
	qctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	ans, err := pol.Query(qctx, m, in.Resolver)
	if err != nil {
		return DNSResult{}, err
	}
	r := ans.Msg
	res := DNSResult{
		Name: name, Type: typName, Resolver: ans.Server, Protocol: ans.Protocol,
		Rcode: dns.RcodeToString[r.Rcode], Authoritative: r.Authoritative,
		RecursionAvailable: r.RecursionAvailable, AuthenticatedData: r.AuthenticatedData,
		QueryTimeMS: ms(ans.RTT),
	}
	res.Answers, res.Truncated = dnsRecords(r.Answer)
	var more bool
	res.Authority, more = dnsRecords(r.Ns)
	res.Truncated = res.Truncated || more
	return res, nil
}

// queryName returns the fully qualified ASCII name to ask for: an IP
// address becomes its reverse name for PTR.
func queryName(s string, qtype uint16) (string, error) {
	if a, err := netip.ParseAddr(s); err == nil && qtype == dns.TypePTR {
		rev, err := dns.ReverseAddr(a.Unmap().WithZone("").String())
		if err != nil {
			return "", tools.ArgErrorf("name", "%v", err)
		}
		return rev, nil
	}
	name, err := dnsNames.ToASCII(strings.TrimSuffix(s, "."))
	if err != nil {
		return "", tools.ArgErrorf("name", "%q is not a valid DNS name: %v", s, err)
	}
	name = dns.Fqdn(strings.ToLower(name))
	if _, ok := dns.IsDomainName(name); !ok || strings.HasPrefix(name, ".") || len(name) > 254 {
		return "", tools.ArgErrorf("name", "%q is not a valid DNS name", s)
	}
	return name, nil
}

// dnsRecords converts a section, at most dnsMaxRecords of it; more is
// set when records were left out.
func dnsRecords(rrs []dns.RR) (out []DNSRecord, more bool) {
	out = []DNSRecord{}
	for i, rr := range rrs {
		if i == dnsMaxRecords {
			return out, true
		}
		h := rr.Header()
		if h.Rrtype == dns.TypeOPT {
			continue
		}
		out = append(out, DNSRecord{
			Name: h.Name, Type: dns.TypeToString[h.Rrtype], TTL: h.Ttl,
			Data: strings.TrimPrefix(rr.String(), h.String()),
		})
	}
	return out, false
}
