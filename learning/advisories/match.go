package advisories

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/protocols"
)

// Evidence is one identity fact a match rests on, with its provenance, so
// an engineer can open the capture at that frame and check it.
type Evidence struct {
	Field   string `json:"field"`
	Value   string `json:"value"`
	Proto   string `json:"proto"`
	Message string `json:"message,omitempty"`
	Frame   uint64 `json:"frame"`
	TS      string `json:"ts,omitempty"`
}

func (e *Evidence) String() string {
	if e == nil {
		return ""
	}
	s := fmt.Sprintf("%s %q (%s", e.Field, e.Value, e.Proto)
	if e.Message != "" {
		s += " " + e.Message
	}
	if e.Frame != 0 {
		s += ", frame " + strconv.FormatUint(e.Frame, 10)
	}
	return s + ")"
}

// CVE is one vulnerability of a match.
type CVE struct {
	ID         string  `json:"id"`
	Title      string  `json:"title,omitempty"`
	CVSS       float64 `json:"cvss,omitempty"`
	Vector     string  `json:"vector,omitempty"`
	KEV        bool    `json:"kev,omitempty"`
	KEVAdded   string  `json:"kev_added,omitempty"`
	Ransomware bool    `json:"ransomware,omitempty"`
	Remedy     string  `json:"remedy,omitempty"`
}

// Match is one advisory product that fits (or may fit) an asset.
type Match struct {
	Advisory  string `json:"advisory"`
	Title     string `json:"title"`
	URL       string `json:"url,omitempty"`
	Vendor    string `json:"vendor"`
	Product   string `json:"product"`
	ProductID string `json:"product_id"`
	Range     string `json:"range"`
	RangeForm string `json:"range_form"`
	// How the product was tied to the asset: "order number" (the product
	// name carries the asset's order number), "family" (the order number
	// or product code belongs to the family the name denotes), "model"
	// (the name carries the asset's model or product name).
	How        string     `json:"how"`
	Confidence string     `json:"confidence"` // high, medium, low
	Status     string     `json:"status"`     // affected, possible, not_affected
	Reason     string     `json:"reason"`
	Evidence   []Evidence `json:"evidence"`
	CVEs       []CVE      `json:"cves,omitempty"`
}

// Statuses and confidences.
const (
	Affected    = "affected"
	Possible    = "possible"
	NotAffected = "not_affected"
)

// AssetMatch is everything the feed says about one asset.
type AssetMatch struct {
	Asset    string  `json:"asset"`
	Identity string  `json:"identity"` // what the wire told, in one line
	Vendor   string  `json:"vendor,omitempty"`
	Family   string  `json:"family,omitempty"`
	Affected []Match `json:"affected,omitempty"`
	// Possible: the product fits but the version cannot be decided (the
	// firmware is unknown or the range is not understood): to check by hand.
	Possible []Match `json:"possible,omitempty"`
	// NotAffected: the product fits but the firmware is outside the range.
	NotAffected []Match `json:"not_affected,omitempty"`
	// Missing says what the identity lacks to match at all, or to decide.
	Missing []string `json:"missing,omitempty"`
	// Notes say why nothing matched when the identity lacks nothing.
	Notes []string `json:"notes,omitempty"`
}

// view is what matching uses of an asset's identity.
type view struct {
	vendor, vendorHow string
	vendorEv          *Evidence
	code              string // order number or product code, normalised
	codeEv            *Evidence
	model             string
	modelNorm         string // " " + normName(model) + " "
	modelEv           *Evidence
	fw                Version
	fwEv              *Evidence
	hw                Version
	hwEv              *Evidence
	siplus            bool
	fam               *family
}

func evidenceOf(field string, id inventory.Identity) *Evidence {
	return &Evidence{Field: field, Value: id.Value, Proto: id.Source.Proto, Message: id.Source.Message, Frame: id.Source.Frame, TS: id.Source.TS}
}

var (
	lldpFirmware = lazyRegexp(`(?i)\bFW:?\s*(?:Version\s*)?(V?\.?\s*[0-9][0-9A-Za-z.]*)`)
	uriHost      = lazyRegexp(`^(?i)(?:urn:|https?://)([^:/]+)`)
)

// siemensProtocol: the protocol's profile says every server is a Siemens device.
func siemensProtocol(proto string) bool {
	p, _ := protocols.ProfileOf(proto)
	return p.Vendor == "siemens"
}

func buildView(a *inventory.Asset) view {
	var v view
	id := a.Identity
	get := func(fields ...string) (string, *Evidence) {
		for _, f := range fields {
			if x, ok := id[f]; ok && strings.TrimSpace(x.Value) != "" {
				return strings.TrimSpace(x.Value), evidenceOf(f, x)
			}
		}
		return "", nil
	}
	// vendor
	if val, ev := get("vendor_name", "manufacturer_name"); val != "" {
		v.vendor, v.vendorEv, v.vendorHow = VendorKey(val), ev, "the device's vendor name"
	}
	if code, ev := get("order_number", "hardware_order_number"); code != "" {
		v.code, v.codeEv = normCode(code), ev
		if v.vendor == "" && siemensProtocol(ev.Proto) && orderNumberRE().MatchString(strings.ToUpper(code)) {
			v.vendor, v.vendorEv, v.vendorHow = "siemens", ev, "a Siemens order number read over "+ev.Proto
		}
	}
	if desc, ev := get("system_description"); desc != "" {
		if v.vendor == "" {
			first := strings.TrimSpace(strings.SplitN(desc, ",", 2)[0])
			if k := VendorKey(first); k != "" && knownVendor(k) {
				v.vendor, v.vendorEv, v.vendorHow = k, ev, "the LLDP system description"
			}
		}
		if v.code == "" {
			if m := orderNumberRE().FindString(strings.ToUpper(desc)); m != "" {
				v.code, v.codeEv = normCode(m), ev
			}
		}
		if m := lldpFirmware().FindStringSubmatch(desc); m != nil && v.fwEv == nil {
			if fw, ok := ParseVersion(strings.ReplaceAll(m[1], " ", "")); ok {
				v.fw, v.fwEv = fw, ev
			}
		}
	}
	if v.vendor == "" {
		if uri, ev := get("product_uri"); uri != "" {
			if m := uriHost().FindStringSubmatch(uri); m != nil {
				host := strings.Split(m[1], ".")[0]
				if k := VendorKey(host); k != "" {
					v.vendor, v.vendorEv, v.vendorHow = k, ev, "the OPC UA product URI"
				}
			}
		}
	}
	if v.code == "" {
		if code, ev := get("product_code"); code != "" {
			v.code, v.codeEv = normCode(code), ev
		}
	}
	if m, ev := get("module_type_name", "model_name", "product_name"); m != "" {
		v.model, v.modelEv, v.modelNorm = m, ev, " "+normName(m)+" "
	}
	if v.fwEv == nil {
		if fw, ev := get("firmware", "software_version"); fw != "" {
			if ver, ok := ParseVersion(fw); ok {
				v.fw, v.fwEv = ver, ev
			} else {
				v.fwEv = ev // present but unreadable: said in Missing
			}
		}
	}
	if hw, ev := get("hardware_version"); hw != "" {
		if ver, ok := ParseVersion(hw); ok {
			v.hw, v.hwEv = ver, ev
		}
	}
	v.siplus = strings.HasPrefix(v.code, "6AG")
	v.fam = familyOf(v.vendor, v.code)
	return v
}

func knownVendor(k string) bool {
	for _, v := range vendorAliases {
		if v.key == k {
			return true
		}
	}
	return false
}

func (v *view) fwKnown() bool { return v.fwEv != nil && len(v.fw.Parts) > 0 }

// summary is the identity in one line.
func (v *view) summary(a *inventory.Asset) string {
	var parts []string
	if v.vendorEv != nil {
		parts = append(parts, v.vendor)
	}
	if v.model != "" {
		parts = append(parts, v.model)
	}
	if v.codeEv != nil {
		parts = append(parts, v.codeEv.Value)
	}
	if v.fwEv != nil {
		parts = append(parts, v.fwEv.Field+" "+v.fwEv.Value)
	}
	if len(parts) == 0 { // nothing matching reads: say what the wire told
		fields := make([]string, 0, len(a.Identity))
		for f := range a.Identity {
			fields = append(fields, f)
		}
		sort.Strings(fields)
		for _, f := range fields[:min(3, len(fields))] {
			parts = append(parts, f+" "+strconv.Quote(a.Identity[f].Value))
		}
	}
	return strings.Join(parts, ", ")
}

var (
	specificCPU = lazyRegexp(`(?i)\bCPU ?[0-9]{3,4}[A-Z]*(?:-[0-9])?`)
	parenthesis = lazyRegexp(`\([^()]*\)`)
	nameMajor   = lazyRegexp(`(?i)(<\s*)?\b(?:V|version\s+)([0-9]+)(?:\.x)?\b((?:\s+CPU family)?\s+and below)?`)
	nameHW      = lazyRegexp(`(?i)hardware version ([0-9][0-9.]*)( and below)?`)
)

// productFits says how (and whether) a product entry names the asset,
// with the reason in words.
func productFits(v *view, r *prodRef) (how string, precision int, why string) {
	name := r.name
	if len(r.orders) > 0 {
		if v.code == "" {
			return "", 0, ""
		}
		for _, o := range r.orders {
			if o == v.code {
				return "order number", 3, fmt.Sprintf("the product name %q carries its order number %s", name, v.codeEv.Value)
			}
		}
		return "", 0, ""
	}
	if f := v.fam; f != nil && slices.Contains(r.fams, f) {
		if r.siplus && !v.siplus {
			return "", 0, ""
		}
		if r.cpu {
			// the name is one model of the family: ours must be it
			if v.model == "" || !strings.Contains(r.norm, v.modelNorm) {
				return "", 0, ""
			}
			return "family", 2, fmt.Sprintf("its order number %s is a %s and the product name %q names its model %s", v.codeEv.Value, f.Name, name, v.model)
		}
		return "family", 2, fmt.Sprintf("its order number %s is a %s, the family the product name %q denotes", v.codeEv.Value, f.Name, name)
	}
	if len(v.code) >= 5 && containsCode(r.words, v.code) {
		return "product code", 2, fmt.Sprintf("the product name %q carries its product code %s", name, v.codeEv.Value)
	}
	if len(v.model) >= 4 && v.modelNorm != "  " && strings.Contains(r.norm, v.modelNorm) {
		return "model", 1, fmt.Sprintf("the product name %q carries its model name %q", name, v.model)
	}
	return "", 0, ""
}

// containsCode: the product code appears in the name as one to four
// consecutive words ("BMX P34 2020", "BMXP342020"), blanks ignored.
func containsCode(words []string, code string) bool {
	for i := range words {
		n := 0
		for j := i; j < len(words) && j < i+4; j++ {
			w := words[j]
			if n+len(w) > len(code) || code[n:n+len(w)] != w {
				break
			}
			n += len(w)
			if n == len(code) {
				return true
			}
		}
	}
	return false
}

// versionFits decides the version: status, and the reason in words.
func versionFits(v *view, r *prodRef) (string, string) {
	p := r.prod
	// a version written into the product name ("S7-400 PN/DP V7 CPU family")
	if m := r.major; m != nil {
		major, _ := strconv.Atoi(m[2])
		if !v.fwKnown() {
			return Possible, fmt.Sprintf("the product name restricts the firmware (%q) and the firmware is unknown", strings.TrimSpace(m[0]))
		}
		fw := part(v.fw.Parts, 0)
		ok := fw == major
		switch {
		case m[1] != "":
			ok = fw < major
		case m[3] != "":
			ok = fw <= major
		}
		if !ok {
			return NotAffected, fmt.Sprintf("firmware %s is outside %q in the product name", v.fwEv.Value, strings.TrimSpace(m[0]))
		}
	}
	if m := r.hw; m != nil {
		if v.hwEv == nil {
			return Possible, fmt.Sprintf("the product name restricts the hardware version (%q) and the hardware version is unknown", m[0])
		}
		lim, _ := ParseVersion(m[1])
		c := Compare(v.hw, lim)
		if (m[2] != "" && c > 0) || (m[2] == "" && c != 0) {
			return NotAffected, fmt.Sprintf("hardware version %s is outside %q", v.hwEv.Value, m[0])
		}
	}
	rg := p.Range
	switch {
	case rg.All:
		return Affected, "all versions are affected"
	case !rg.Parsed():
		return Possible, fmt.Sprintf("the version range %q is not understood (%s): check by hand", rg.Raw, strings.TrimPrefix(rg.Form, "unparsed: "))
	case !v.fwKnown():
		if v.fwEv != nil {
			return Possible, fmt.Sprintf("the firmware %q is not a version otwatch reads", v.fwEv.Value)
		}
		return Possible, fmt.Sprintf("the firmware is unknown and the advisory affects %q only", rg.Raw)
	case rg.Contains(v.fw):
		return Affected, fmt.Sprintf("firmware %s is in %q", v.fwEv.Value, strings.TrimSpace(rg.Raw))
	}
	return NotAffected, fmt.Sprintf("firmware %s is outside %q", v.fwEv.Value, strings.TrimSpace(rg.Raw))
}

// candidates are the entries that can fit: for an asset of a known family,
// those carrying its order number and those naming its family (a family
// name never fits by product code or model alone); else every entry of
// its vendor, in feed order.
func (f *Feed) candidates(v *view) []*prodRef {
	if v.fam != nil { // two lists in feed order: merged, without repeats
		a, b := f.byOrder[v.code], f.byFamily[v.fam]
		out := make([]*prodRef, 0, len(a)+len(b))
		for len(a) > 0 || len(b) > 0 {
			var r *prodRef
			switch {
			case len(b) == 0 || (len(a) > 0 && a[0].pos <= b[0].pos):
				r, a = a[0], a[1:]
			default:
				r, b = b[0], b[1:]
			}
			if n := len(out); n == 0 || out[n-1] != r {
				out = append(out, r)
			}
		}
		return out
	}
	refs := f.byVendor[v.vendor]
	out := make([]*prodRef, len(refs))
	for i := range refs {
		out[i] = &refs[i]
	}
	return out
}

// maxListed bounds the possible and not-affected matches kept per asset.
const maxListed = 50

// Match finds the advisories that concern an asset.
func (f *Feed) Match(a *inventory.Asset) AssetMatch { return f.match(a, nil) }

// matchLists are an identity's matches, before the asset's evidence is
// attached: assets with the same identity share them within one Assess.
type matchLists struct{ affected, possible, notAffected []Match }

func (f *Feed) match(a *inventory.Asset, cache map[string]*matchLists) AssetMatch {
	v := buildView(a)
	out := AssetMatch{Asset: a.ID, Identity: v.summary(a), Vendor: v.vendor}
	if v.fam != nil {
		out.Family = v.fam.Name
	}
	out.Missing = missing(&v, a)
	if v.vendor == "" {
		return out
	}
	if len(f.byVendor[v.vendor]) == 0 {
		if v.vendorEv.Field == "product_uri" {
			out.Notes = append(out.Notes, fmt.Sprintf("no imported advisory names the vendor %q (from its OPC UA product URI %q)", v.vendor, v.vendorEv.Value))
		} else {
			out.Notes = append(out.Notes, fmt.Sprintf("no imported advisory names the vendor %q (%s)", v.vendorEv.Value, v.vendorHow))
		}
		return out
	}
	key := v.key()
	lists := cache[key]
	if lists == nil {
		lists = f.matchView(&v)
		if cache != nil {
			cache[key] = lists
		}
	}
	var ev []Evidence
	for _, e := range []*Evidence{v.vendorEv, v.codeEv, v.modelEv, v.fwEv, v.hwEv} {
		if e != nil && !hasEvidence(ev, e) {
			ev = append(ev, *e)
		}
	}
	attach := func(ms []Match) []Match {
		if len(ms) == 0 {
			return nil
		}
		out := make([]Match, len(ms))
		for i, m := range ms {
			m.Evidence = ev
			out[i] = m
		}
		return out
	}
	out.Affected, out.Possible, out.NotAffected = attach(lists.affected), attach(lists.possible), attach(lists.notAffected)
	return out
}

// key is what matching reads of a view, as one string.
func (v *view) key() string {
	val := func(e *Evidence) string {
		if e == nil {
			return ""
		}
		return e.Value
	}
	return strings.Join([]string{v.vendor, val(v.codeEv), v.model, val(v.fwEv), val(v.hwEv)}, "\x00")
}

// matchView runs the candidates of a view through the product and version rules.
func (f *Feed) matchView(v *view) *matchLists {
	out := &matchLists{}
	type best struct {
		m         Match
		precision int
		ids       []string
	}
	byAdv := map[string]*best{}
	var order []string
	for _, ref := range f.candidates(v) {
		how, precision, why := productFits(v, ref)
		if how == "" {
			continue
		}
		name := ref.prod.Name
		status, vwhy := versionFits(v, ref)
		m := Match{Advisory: ref.adv.ID, Title: ref.adv.Title, URL: ref.adv.URL, Vendor: ref.prod.Vendor, Product: name,
			ProductID: ref.prod.ID, Range: ref.prod.Range.Raw, RangeForm: ref.prod.Range.Form, How: how, Status: status,
			Reason: why + "; " + vwhy}
		if ref.prod.Range.Raw == "" && ref.prod.Range.All {
			m.Range = "all versions"
		}
		switch {
		case status == Affected && precision >= 2:
			m.Confidence = "high"
		case status == Affected:
			m.Confidence = "medium"
		default:
			m.Confidence = "low"
		}
		b := byAdv[ref.adv.ID]
		if b == nil {
			byAdv[ref.adv.ID] = &best{m, precision, []string{ref.prod.ID}}
			order = append(order, ref.adv.ID)
			continue
		}
		// an advisory with several entries that fit: the most telling one
		// stands for it (affected over possible, then the more precise tie)
		if statusRank[status] > statusRank[b.m.Status] || (statusRank[status] == statusRank[b.m.Status] && precision > b.precision) {
			b.m, b.precision = m, precision
		}
		if status == Affected || (status == Possible && b.m.Status == Possible) {
			b.ids = append(b.ids, ref.prod.ID)
		}
	}
	for _, id := range order {
		b := byAdv[id]
		adv := f.advisories[id]
		if b.m.Status != NotAffected {
			b.m.CVEs = f.cves(adv, b.ids)
		}
		switch b.m.Status {
		case Affected:
			out.affected = append(out.affected, b.m)
		case Possible:
			if len(out.possible) < maxListed {
				out.possible = append(out.possible, b.m)
			}
		default:
			if len(out.notAffected) < maxListed {
				out.notAffected = append(out.notAffected, b.m)
			}
		}
	}
	sortMatches(out.affected)
	sortMatches(out.possible)
	sortMatches(out.notAffected)
	return out
}

var statusRank = map[string]int{Affected: 3, Possible: 2, NotAffected: 1}

func hasEvidence(list []Evidence, e *Evidence) bool {
	for _, x := range list {
		if x.Field == e.Field && x.Value == e.Value {
			return true
		}
	}
	return false
}

// cves lists the vulnerabilities of an advisory that affect the products.
func (f *Feed) cves(a *Advisory, ids []string) []CVE {
	var out []CVE
	for i := range a.Vulns {
		vu := &a.Vulns[i]
		hit := ""
		for _, id := range ids {
			for _, x := range vu.Affected {
				if x == id {
					hit = id
				}
			}
		}
		if hit == "" || vu.CVE == "" {
			continue
		}
		c := CVE{ID: vu.CVE, Title: vu.Title, Remedy: vu.Remedy(ids)}
		if c.Title == c.ID {
			c.Title = ""
		}
		for _, id := range ids {
			if s, vec := vu.CVSS(id); s > c.CVSS {
				c.CVSS, c.Vector = s, vec
			}
		}
		if k, ok := f.Exploited(vu.CVE); ok {
			c.KEV, c.KEVAdded, c.Ransomware = true, k.Added, k.Ransomware
		}
		out = append(out, c)
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].KEV != out[j].KEV {
			return out[i].KEV
		}
		if out[i].CVSS != out[j].CVSS {
			return out[i].CVSS > out[j].CVSS
		}
		return out[i].ID < out[j].ID
	})
	return out
}

func sortMatches(ms []Match) {
	sort.SliceStable(ms, func(i, j int) bool {
		a, b := maxCVSS(ms[i].CVEs), maxCVSS(ms[j].CVEs)
		if a != b {
			return a > b
		}
		return ms[i].Advisory > ms[j].Advisory // newer advisories first
	})
}

func maxCVSS(cs []CVE) float64 {
	var m float64
	for _, c := range cs {
		if c.KEV {
			m = max(m, 100+c.CVSS)
		}
		m = max(m, c.CVSS)
	}
	return m
}

// missing says what the identity lacks, in the engineer's words.
func missing(v *view, a *inventory.Asset) []string {
	var out []string
	if len(a.Identity) == 0 {
		s := "no identity from the wire (no device identification, SZL, BuildInfo or LLDP seen)"
		if a.Vendor != "" {
			s += "; only the MAC's vendor " + a.Vendor + " is known"
		}
		return []string{s}
	}
	if v.vendor == "" {
		if uri, ok := a.Identity["product_uri"]; ok {
			out = append(out, fmt.Sprintf("the vendor: no vendor name or order number, and the product URI %q names no organisation", uri.Value))
		} else {
			out = append(out, "the vendor: no vendor name, Siemens order number or product URI in its identity")
		}
	}
	if v.code == "" && v.model == "" {
		if _, opcua := a.Identity["product_uri"]; opcua {
			out = append(out, "the product: only the OPC UA application description (application and product URI) was seen, not the server's BuildInfo (product name, manufacturer, software version, read from its ServerStatus)")
		} else {
			out = append(out, "the product: no order number, product code, model or product name in its identity")
		}
	}
	if v.vendor != "" && v.code != "" && v.fam == nil && familyRules(v.vendor) {
		out = append(out, fmt.Sprintf("a family for %s: the order number or product code is in none of otwatch's %s families (exact product-name matches still apply)", v.codeEv.Value, v.vendor))
	}
	if !v.fwKnown() {
		if _, opcua := a.Identity["product_uri"]; opcua && v.code == "" && v.model == "" {
			return out // said above: the BuildInfo carries the version too
		}
		if v.fwEv != nil {
			out = append(out, fmt.Sprintf("a readable firmware version: %q", v.fwEv.Value))
		} else {
			out = append(out, "the firmware version: advisories that affect only some versions cannot be decided")
		}
	}
	return out
}

func familyRules(vendor string) bool {
	for _, f := range families() {
		if f.Vendor == vendor {
			return true
		}
	}
	return false
}
