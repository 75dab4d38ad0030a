package baseline

import (
	"fmt"
	"sort"

	"github.com/otwatch/otwatch/protocols"
)

// Diff lists what differs between two baselines, key by key (counts and
// times are not differences: they move with every packet). Lines start with
// "+" (only in b), "-" (only in a) or "~" (changed), sorted, for review.
func Diff(a, b Document) []string {
	ka, kb := keys(a), keys(b)
	var out []string
	for k, va := range ka {
		vb, ok := kb[k]
		switch {
		case !ok:
			out = append(out, "- "+k)
		case va != vb:
			out = append(out, fmt.Sprintf("~ %s: %s -> %s", k, va, vb))
		}
	}
	for k := range kb {
		if _, ok := ka[k]; !ok {
			out = append(out, "+ "+k)
		}
	}
	sort.Strings(out)
	return out
}

// keys flattens a document into reviewable keys and their learned content.
func keys(d Document) map[string]string {
	m := map[string]string{}
	for _, h := range d.Network.Hosts {
		m["host "+h.IP] = ""
	}
	for _, a := range d.Assets {
		p := "asset " + a.Server
		m[p] = a.State
		for proto := range a.Protocols {
			m[p+" protocol "+proto] = ""
		}
		for _, l := range a.Links {
			m[fmt.Sprintf("%s link %s %s", p, l.Client, l.Proto)] = ""
		}
		for _, f := range a.Functions {
			sub := ""
			if f.Subcode != nil {
				sub = fmt.Sprintf("/%d", *f.Subcode)
			}
			m[fmt.Sprintf("%s function %s %s unit %q %s %d%s", p, f.Client, f.Proto, f.Unit, f.Op, f.Code, sub)] = fmt.Sprint(f.Targets)
		}
		for _, l := range a.Links {
			for _, r := range l.Rates {
				m[fmt.Sprintf("%s link %s %s rate %s", p, l.Client, l.Proto, r.Class)] = fmt.Sprintf("at most %d in 1 s, %d in 10 s", r.Max1s, r.Max10s)
			}
		}
		for _, w := range a.Writes {
			m[fmt.Sprintf("%s writes %s unit %q %s", p, w.Proto, w.Unit, w.Space)] = fmt.Sprint(w.Ranges, w.IDs)
		}
		for _, pt := range a.Points {
			desc := string(pt.Class) + " "
			typ, _ := protocols.ParseNumType(pt.Type)
			vm, _ := pt.Model.model(typ)
			desc += vm.Describe()
			name := fmt.Sprintf("%s point %s unit %q %s %d%s", p, pt.Proto, pt.Unit, pt.Space, pt.Address, pt.ID)
			if pt.Bit != nil {
				name += fmt.Sprintf(".%d", *pt.Bit)
			}
			if pt.Type != "" {
				name += " " + pt.Type
			}
			if pt.Field != "" {
				name += " " + pt.Field
			}
			m[name] = desc
		}
	}
	return m
}
