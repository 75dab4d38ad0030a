package advisories

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/otwatch/otwatch/learning/store"
)

// Bucket is the state database bucket holding the imported feed: one key
// per advisory ("csaf/ICSA-20-042-05") and "kev". It is written at import,
// never by checkpoints.
const Bucket = "advisories"

// Feed is the imported advisories and KEV catalog, indexed by vendor for
// matching. Not safe for concurrent use: the daemon guards it with its
// state lock.
type Feed struct {
	advisories map[string]*Advisory
	kev        *KEV
	byVendor   map[string][]prodRef
	byOrder    map[string][]*prodRef // order number → the entries that carry it
	byFamily   map[*family][]*prodRef
	products   int
}

// prodRef is a product entry with what matching needs of its name worked
// out once at import, not per asset.
type prodRef struct {
	pos    int // feed order: advisory id, then entry
	adv    *Advisory
	prod   *Product
	name   string   // family and product name
	orders []string // order numbers in the name and model numbers, normalised
	norm   string   // " " + normName(name) + " ": whole-word search
	words  []string // the upper-case name cut at blanks and punctuation (product codes)
	fams   []*family
	siplus bool
	cpu    bool     // the name is one CPU model of its family
	major  []string // a firmware generation written into the name (nameMajor's submatches)
	hw     []string // a hardware version written into the name (nameHW's submatches)
}

func newProdRef(a *Advisory, p *Product, vendor string) prodRef {
	r := prodRef{adv: a, prod: p, name: p.Name}
	if p.Family != "" && p.Family != p.Name {
		r.name = p.Family + " " + p.Name
	}
	upper := strings.ToUpper(r.name)
	for _, o := range orderNumberRE().FindAllString(upper, -1) {
		r.orders = append(r.orders, normCode(o))
	}
	for _, m := range p.Models {
		r.orders = append(r.orders, normCode(m))
	}
	r.norm = " " + normName(r.name) + " "
	r.words = strings.FieldsFunc(upper, func(c rune) bool {
		return c == ' ' || c == '(' || c == ')' || c == ',' || c == ';' || c == ':' || c == '/'
	})
	fams := families()
	for i := range fams {
		f := &fams[i]
		if f.Vendor == vendor && f.Names.MatchString(r.name) && (f.Not == nil || !f.Not.MatchString(r.name)) {
			r.fams = append(r.fams, f)
		}
	}
	r.siplus = strings.HasPrefix(upper, "SIPLUS")
	clean := parenthesis().ReplaceAllString(r.name, "")
	r.cpu = specificCPU().MatchString(clean)
	r.major = nameMajor().FindStringSubmatch(clean)
	r.hw = nameHW().FindStringSubmatch(clean)
	return r
}

// NewFeed is an empty feed.
func NewFeed() *Feed {
	return &Feed{advisories: map[string]*Advisory{}, byVendor: map[string][]prodRef{}}
}

// LoadFeed reads the feed saved in the state database.
func LoadFeed(st *store.Store) (*Feed, error) {
	f := NewFeed()
	err := st.Blobs(Bucket, func(k string, v []byte) error {
		switch {
		case k == "kev":
			var kev KEV
			if err := unpack(v, &kev); err != nil {
				return fmt.Errorf("%s/kev: %w", Bucket, err)
			}
			f.kev = &kev
		case strings.HasPrefix(k, "csaf/"):
			var a Advisory
			if err := unpack(v, &a); err != nil {
				return fmt.Errorf("%s/%s: %w", Bucket, k, err)
			}
			f.advisories[a.ID] = &a
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: imported advisories unreadable: %w", st.Path(), err)
	}
	f.reindex()
	return f, nil
}

// Plan is what an import will change: computed against the feed without
// touching it, written to the database, then committed.
type Plan struct {
	Added, Replaced int
	// KeptNewer lists advisories the feed already holds in a newer
	// revision (the import does not roll them back).
	KeptNewer []string
	KEV       string // what happens to the KEV catalog, "" when the import has none
	blobs     map[string][]byte
	advs      []*Advisory
	kev       *KEV
}

// Plan works out an import: an advisory replaces the stored one of the
// same tracking id unless that one is a newer revision; a KEV catalog
// replaces the stored one unless that one is newer. Nothing is duplicated.
func (f *Feed) Plan(im *Import) (*Plan, error) {
	p := &Plan{blobs: map[string][]byte{}}
	seen := map[string]*Advisory{}
	for _, a := range im.Advisories {
		if prev := seen[a.ID]; prev != nil && !newer(a, prev) {
			continue // twice in one bundle: the newer revision wins
		}
		seen[a.ID] = a
	}
	ids := make([]string, 0, len(seen))
	for id := range seen {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		a := seen[id]
		if old, ok := f.advisories[id]; ok {
			if newer(old, a) {
				p.KeptNewer = append(p.KeptNewer, fmt.Sprintf("%s (stored %s of %s, imported %s of %s)", id, old.Version,
					old.Updated.Format("2006-01-02"), a.Version, a.Updated.Format("2006-01-02")))
				continue
			}
			p.Replaced++
		} else {
			p.Added++
		}
		b, err := pack(a)
		if err != nil {
			return nil, err
		}
		p.blobs["csaf/"+id] = b
		p.advs = append(p.advs, a)
	}
	if k := im.KEV; k != nil {
		switch {
		case f.kev != nil && f.kev.Released.After(k.Released):
			p.KEV = fmt.Sprintf("kept the stored KEV catalog %s, newer than the imported %s", f.kev.Version, k.Version)
		default:
			b, err := pack(k)
			if err != nil {
				return nil, err
			}
			p.blobs["kev"], p.kev = b, k
			if f.kev != nil {
				p.KEV = fmt.Sprintf("KEV catalog %s replaces %s", k.Version, f.kev.Version)
			} else {
				p.KEV = "KEV catalog " + k.Version + " added"
			}
		}
	}
	return p, nil
}

// newer: a is a later revision than b.
func newer(a, b *Advisory) bool {
	if !a.Updated.Equal(b.Updated) {
		return a.Updated.After(b.Updated)
	}
	return compareDotted(a.Version, b.Version) > 0
}

func compareDotted(a, b string) int {
	va, _ := ParseVersion(a)
	vb, _ := ParseVersion(b)
	return Compare(va, vb)
}

// Write stores the plan's documents in the database (one transaction).
func (p *Plan) Write(st *store.Store) error {
	if len(p.blobs) == 0 {
		return nil
	}
	return st.PutBlobs(Bucket, p.blobs)
}

// Commit applies a written plan to the feed in memory.
func (f *Feed) Commit(p *Plan) {
	for _, a := range p.advs {
		f.advisories[a.ID] = a
	}
	if p.kev != nil {
		f.kev = p.kev
	}
	f.reindex()
}

// String is the plan in one line.
func (p *Plan) String() string {
	s := fmt.Sprintf("%d advisories added, %d replaced", p.Added, p.Replaced)
	if len(p.KeptNewer) > 0 {
		s += fmt.Sprintf(", %d kept (a newer revision is stored: %s)", len(p.KeptNewer), strings.Join(p.KeptNewer, ", "))
	}
	if p.KEV != "" {
		s += "; " + p.KEV
	}
	return s
}

func (f *Feed) reindex() {
	f.byVendor = map[string][]prodRef{}
	f.byOrder, f.byFamily = map[string][]*prodRef{}, map[*family][]*prodRef{}
	f.products = 0
	keys := map[string]string{} // vendor spelling → key, worked out once
	ids := make([]string, 0, len(f.advisories))
	for id := range f.advisories {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		a := f.advisories[id]
		for i := range a.Products {
			p := &a.Products[i]
			k, ok := keys[p.Vendor]
			if !ok {
				k = VendorKey(p.Vendor)
				keys[p.Vendor] = k
			}
			r := newProdRef(a, p, k)
			r.pos = f.products
			f.byVendor[k] = append(f.byVendor[k], r)
			f.products++
		}
	}
	for k := range f.byVendor {
		refs := f.byVendor[k]
		for i := range refs {
			r := &refs[i]
			for _, o := range r.orders {
				f.byOrder[o] = append(f.byOrder[o], r)
			}
			for _, fam := range r.fams {
				f.byFamily[fam] = append(f.byFamily[fam], r)
			}
		}
	}
	// candidates merges these lists: each in feed order
	for _, m := range []map[string][]*prodRef{f.byOrder} {
		for _, l := range m {
			sort.Slice(l, func(i, j int) bool { return l[i].pos < l[j].pos })
		}
	}
	for _, l := range f.byFamily {
		sort.Slice(l, func(i, j int) bool { return l[i].pos < l[j].pos })
	}
}

// Summary describes the feed for the dashboard and the CLI.
type Summary struct {
	Advisories int       `json:"advisories"`
	Products   int       `json:"products"`
	Newest     time.Time `json:"newest,omitzero"` // the latest current_release_date
	KEVVersion string    `json:"kev_version,omitempty"`
	KEVEntries int       `json:"kev_entries,omitempty"`
	Imported   time.Time `json:"imported,omitzero"` // the latest import
}

// Summary counts what the feed holds.
func (f *Feed) Summary() Summary {
	s := Summary{Advisories: len(f.advisories), Products: f.products}
	for _, a := range f.advisories {
		if a.Updated.After(s.Newest) {
			s.Newest = a.Updated
		}
		if a.Source.Imported.After(s.Imported) {
			s.Imported = a.Source.Imported
		}
	}
	if f.kev != nil {
		s.KEVVersion, s.KEVEntries = f.kev.Version, len(f.kev.Entries)
		if f.kev.Source.Imported.After(s.Imported) {
			s.Imported = f.kev.Source.Imported
		}
	}
	return s
}

// Advisory returns one advisory by tracking id.
func (f *Feed) Advisory(id string) (*Advisory, bool) {
	a, ok := f.advisories[id]
	return a, ok
}

// Exploited returns the KEV entry of a CVE.
func (f *Feed) Exploited(cve string) (KEVEntry, bool) {
	if f.kev == nil {
		return KEVEntry{}, false
	}
	e, ok := f.kev.Entries[cve]
	return e, ok
}

// pack is a stored value: gzip-compressed JSON. The remediation texts
// repeat within an advisory; compressed, the 2,379 CISA advisories take a
// fifth of their JSON size, which matters on an appliance's flash.
func pack(v any) ([]byte, error) {
	raw, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&b, gzip.BestCompression)
	zw.Write(raw)
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// maxUnpacked bounds a stored value once decompressed.
const maxUnpacked = 256 << 20

func unpack(b []byte, v any) error {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return err
	}
	raw, err := io.ReadAll(io.LimitReader(zr, maxUnpacked+1))
	if err != nil {
		return err
	}
	if len(raw) > maxUnpacked {
		return fmt.Errorf("more than %d bytes decompressed", maxUnpacked)
	}
	return json.Unmarshal(raw, v)
}
