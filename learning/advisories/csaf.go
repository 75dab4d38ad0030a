package advisories

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Advisory is what otwatch keeps of one CSAF 2.0 security advisory: its
// tracking data, every product entry of its product tree (vendor, product
// name, version range) and every vulnerability with the products it
// affects, its CVSS score and the vendor's remedy.
type Advisory struct {
	ID        string    `json:"id"` // document.tracking.id, e.g. ICSA-20-042-05
	Title     string    `json:"title"`
	Publisher string    `json:"publisher"`
	Version   string    `json:"version"` // tracking.version
	Released  time.Time `json:"released"`
	Updated   time.Time `json:"updated"` // tracking.current_release_date
	URL       string    `json:"url,omitempty"`
	Products  []Product `json:"products"`
	Vulns     []Vuln    `json:"vulns"`
	Source    Source    `json:"source"`
}

// Product is one leaf of the product tree: a product (and version range)
// of one vendor, with the id the vulnerabilities name it by.
type Product struct {
	ID     string   `json:"id"`
	Vendor string   `json:"vendor"`
	Family string   `json:"family,omitempty"`
	Name   string   `json:"name"` // the product_name branch (the vendor's marketing name)
	Range  Range    `json:"range"`
	Branch string   `json:"branch,omitempty"` // where the version came from: product_version_range, product_version, "" none
	Full   string   `json:"full,omitempty"`   // product.name
	Models []string `json:"models,omitempty"` // product_identification_helper.model_numbers
}

// Vuln is one vulnerability of an advisory.
type Vuln struct {
	CVE      string   `json:"cve"`
	Title    string   `json:"title,omitempty"`
	CWE      string   `json:"cwe,omitempty"`
	Affected []string `json:"affected"` // product ids: known_affected, first_affected, last_affected
	Scores   []Score  `json:"scores,omitempty"`
	Remedies []Remedy `json:"remedies,omitempty"`
}

// Remedy is a remediation of a vulnerability for some products.
type Remedy struct {
	Category string   `json:"category"` // vendor_fix, mitigation, workaround, none_available, no_fix_planned
	Details  string   `json:"details"`
	Products []string `json:"products,omitempty"` // product ids (or group ids); none: every affected product
}

// remedyRank: what an engineer wants to read first.
var remedyRank = map[string]int{"vendor_fix": 5, "workaround": 4, "mitigation": 3, "no_fix_planned": 2, "none_available": 1}

// Remedy is the most useful remediation given for one of the products:
// a vendor fix, else a workaround or mitigation, else "no fix" (with its category).
func (v *Vuln) Remedy(productIDs []string) string {
	best, text := 0, ""
	for _, r := range v.Remedies {
		if n := remedyRank[r.Category]; n > best && (len(r.Products) == 0 || intersects(r.Products, productIDs)) {
			best, text = n, r.Details
			if r.Category == "none_available" || r.Category == "no_fix_planned" {
				text = strings.ReplaceAll(r.Category, "_", " ") + ": " + r.Details
			}
		}
	}
	return text
}

func intersects(a, b []string) bool {
	for _, x := range a {
		for _, y := range b {
			if x == y {
				return true
			}
		}
	}
	return false
}

// Score is a CVSS v3 base score and the products it is given for.
type Score struct {
	Base     float64  `json:"base"`
	Vector   string   `json:"vector,omitempty"`
	Products []string `json:"products"`
}

// CVSS returns the base score given for a product (the highest, when the
// advisory gives several), 0 when none is.
func (v *Vuln) CVSS(productID string) (float64, string) {
	var best float64
	var vec string
	for _, s := range v.Scores {
		for _, p := range s.Products {
			if p == productID && s.Base > best {
				best, vec = s.Base, s.Vector
			}
		}
	}
	return best, vec
}

// Source says where an imported document came from and how it was checked.
type Source struct {
	File     string    `json:"file"`
	SHA256   string    `json:"sha256"`
	Imported time.Time `json:"imported"`
	// Check: how the file's integrity was established ("sha512 file
	// verified", "OpenPGP signature by … verified", or "none").
	Check string `json:"check"`
}

// csafDoc is the part of CSAF 2.0 (OASIS, csaf_json_schema.json) otwatch reads.
type csafDoc struct {
	Document *struct {
		Category    string `json:"category"`
		CSAFVersion string `json:"csaf_version"`
		Title       string `json:"title"`
		Publisher   *struct {
			Category  string `json:"category"`
			Name      string `json:"name"`
			Namespace string `json:"namespace"`
		} `json:"publisher"`
		Tracking *struct {
			ID                 string `json:"id"`
			Status             string `json:"status"`
			Version            string `json:"version"`
			InitialReleaseDate string `json:"initial_release_date"`
			CurrentReleaseDate string `json:"current_release_date"`
		} `json:"tracking"`
		References []struct {
			Category string `json:"category"`
			URL      string `json:"url"`
		} `json:"references"`
	} `json:"document"`
	ProductTree *struct {
		Branches         []csafBranch  `json:"branches"`
		FullProductNames []csafProduct `json:"full_product_names"`
		Relationships    []struct {
			FullProductName csafProduct `json:"full_product_name"`
		} `json:"relationships"`
		ProductGroups []struct {
			GroupID string `json:"group_id"`
		} `json:"product_groups"`
	} `json:"product_tree"`
	Vulnerabilities []struct {
		CVE   string `json:"cve"`
		Title string `json:"title"`
		CWE   *struct {
			ID string `json:"id"`
		} `json:"cwe"`
		ProductStatus struct {
			KnownAffected []string `json:"known_affected"`
			FirstAffected []string `json:"first_affected"`
			LastAffected  []string `json:"last_affected"`
		} `json:"product_status"`
		Scores []struct {
			CVSSv3 *struct {
				BaseScore    *float64 `json:"baseScore"`
				VectorString string   `json:"vectorString"`
				Version      string   `json:"version"`
			} `json:"cvss_v3"`
			Products []string `json:"products"`
		} `json:"scores"`
		Remediations []struct {
			Category   string   `json:"category"`
			Details    string   `json:"details"`
			ProductIDs []string `json:"product_ids"`
		} `json:"remediations"`
	} `json:"vulnerabilities"`
}

type csafBranch struct {
	Category string       `json:"category"`
	Name     string       `json:"name"`
	Branches []csafBranch `json:"branches"`
	Product  *csafProduct `json:"product"`
}

type csafProduct struct {
	ProductID string `json:"product_id"`
	Name      string `json:"name"`
	Helper    *struct {
		ModelNumbers []string `json:"model_numbers"`
	} `json:"product_identification_helper"`
}

// Limits on one document, so a hostile file cannot exhaust memory.
const (
	maxBranchDepth = 30
	maxProducts    = 20000
	maxVulns       = 5000
	maxRemedy      = 400
)

var cveID = lazyRegexp(`^CVE-[0-9]{4}-[0-9]{4,}$`)

// docErrors collects what is wrong with a document, each with its JSON path.
type docErrors []string

func (e *docErrors) add(path, format string, args ...any) {
	if len(*e) < 20 {
		*e = append(*e, path+": "+fmt.Sprintf(format, args...))
	}
}

// ErrNotCSAF says a JSON file is neither a CSAF document nor a KEV catalog.
var ErrNotCSAF = errors.New("not a CSAF 2.0 document nor a KEV catalog")

// ParseCSAF reads and validates one CSAF 2.0 document: the fields the
// schema makes mandatory for otwatch's use (category, csaf_version 2.0,
// publisher, title, tracking id, version and dates), product ids defined
// once and every product a vulnerability names defined (CSAF 6.1.1,
// 6.1.2), CVE ids and CVSS scores well formed. Every problem is named with
// its JSON path.
func ParseCSAF(data []byte) (*Advisory, error) {
	var d csafDoc
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	if d.Document == nil {
		return nil, ErrNotCSAF
	}
	var errs docErrors
	doc := d.Document
	a := &Advisory{Title: strings.TrimSpace(doc.Title)}
	if doc.Category == "" {
		errs.add("/document/category", "missing")
	}
	if doc.CSAFVersion != "2.0" {
		errs.add("/document/csaf_version", "%q, want \"2.0\"", doc.CSAFVersion)
	}
	if a.Title == "" {
		errs.add("/document/title", "missing")
	}
	if doc.Publisher == nil || doc.Publisher.Name == "" || doc.Publisher.Namespace == "" {
		errs.add("/document/publisher", "missing or without name and namespace")
	} else {
		a.Publisher = doc.Publisher.Name
	}
	if t := doc.Tracking; t == nil {
		errs.add("/document/tracking", "missing")
	} else {
		a.ID, a.Version = strings.TrimSpace(t.ID), t.Version
		if a.ID == "" {
			errs.add("/document/tracking/id", "missing")
		}
		if t.Version == "" {
			errs.add("/document/tracking/version", "missing")
		}
		var err error
		if a.Released, err = time.Parse(time.RFC3339, t.InitialReleaseDate); err != nil {
			errs.add("/document/tracking/initial_release_date", "%q is not an RFC 3339 date", t.InitialReleaseDate)
		}
		if a.Updated, err = time.Parse(time.RFC3339, t.CurrentReleaseDate); err != nil {
			errs.add("/document/tracking/current_release_date", "%q is not an RFC 3339 date", t.CurrentReleaseDate)
		}
	}
	for _, r := range doc.References {
		if r.Category == "self" && a.URL == "" {
			a.URL = r.URL
		}
	}
	defined := map[string]bool{}
	define := func(path, id string) bool {
		switch {
		case id == "":
			errs.add(path, "product without product_id")
			return false
		case defined[id]:
			errs.add(path, "product_id %q defined twice (CSAF 6.1.2)", id)
			return false
		case len(defined) >= maxProducts:
			errs.add(path, "more than %d products", maxProducts)
			return false
		}
		defined[id] = true
		return true
	}
	if pt := d.ProductTree; pt != nil {
		var walk func(bs []csafBranch, path string, depth int, p Product)
		walk = func(bs []csafBranch, path string, depth int, p Product) {
			if depth > maxBranchDepth {
				errs.add(path, "branches nested deeper than %d", maxBranchDepth)
				return
			}
			for i, b := range bs {
				bp := fmt.Sprintf("%s/branches/%d", path, i)
				q := p
				name := strings.TrimSpace(b.Name)
				switch b.Category {
				case "vendor":
					q.Vendor = name
				case "product_family":
					if q.Family == "" {
						q.Family = name
					} else {
						q.Family += " " + name
					}
				case "product_name":
					q.Name = name
				case "product_version", "product_version_range":
					q.Range, q.Branch = ParseRange(name), b.Category
				case "":
					errs.add(bp+"/category", "missing")
				}
				if b.Product != nil {
					if define(bp+"/product", b.Product.ProductID) {
						q.ID, q.Full = b.Product.ProductID, b.Product.Name
						if b.Product.Helper != nil {
							q.Models = b.Product.Helper.ModelNumbers
						}
						if q.Name == "" && q.Family != "" { // vendor → family → version: the family is the name
							q.Name = q.Family
						}
						if q.Range.Raw == "" && q.Range.Form == "" {
							q.Range = Range{Form: "unparsed: no version given"}
						}
						a.Products = append(a.Products, q)
					}
				}
				walk(b.Branches, bp, depth+1, q)
			}
		}
		walk(pt.Branches, "/product_tree", 0, Product{})
		for i, p := range pt.FullProductNames {
			define(fmt.Sprintf("/product_tree/full_product_names/%d", i), p.ProductID)
		}
		for i, r := range pt.Relationships {
			define(fmt.Sprintf("/product_tree/relationships/%d/full_product_name", i), r.FullProductName.ProductID)
		}
		for _, g := range pt.ProductGroups {
			defined[g.GroupID] = true // groups may stand for products in remediations
		}
	}
	if len(d.Vulnerabilities) > maxVulns {
		errs.add("/vulnerabilities", "more than %d", maxVulns)
		d.Vulnerabilities = d.Vulnerabilities[:maxVulns]
	}
	for i, v := range d.Vulnerabilities {
		vp := fmt.Sprintf("/vulnerabilities/%d", i)
		vu := Vuln{CVE: strings.TrimSpace(v.CVE), Title: v.Title}
		if vu.CVE != "" && !cveID().MatchString(vu.CVE) {
			errs.add(vp+"/cve", "%q is not a CVE id", vu.CVE)
		}
		if v.CWE != nil {
			vu.CWE = v.CWE.ID
		}
		for _, list := range [][]string{v.ProductStatus.KnownAffected, v.ProductStatus.FirstAffected, v.ProductStatus.LastAffected} {
			for _, id := range list {
				if !defined[id] {
					errs.add(vp+"/product_status", "product %q is not defined in the product tree (CSAF 6.1.1)", id)
					continue
				}
				vu.Affected = append(vu.Affected, id)
			}
		}
		for j, s := range v.Scores {
			if s.CVSSv3 == nil || s.CVSSv3.BaseScore == nil {
				continue
			}
			if b := *s.CVSSv3.BaseScore; b < 0 || b > 10 {
				errs.add(fmt.Sprintf("%s/scores/%d/cvss_v3/baseScore", vp, j), "%v is outside 0–10", b)
				continue
			}
			for _, id := range s.Products {
				if !defined[id] {
					errs.add(fmt.Sprintf("%s/scores/%d/products", vp, j), "product %q is not defined in the product tree (CSAF 6.1.1)", id)
				}
			}
			vu.Scores = append(vu.Scores, Score{Base: *s.CVSSv3.BaseScore, Vector: s.CVSSv3.VectorString, Products: s.Products})
		}
		// every fix and workaround, and the first three mitigations (the
		// rest are CISA's generic advice, repeated in every advisory)
		mitigations := 0
		for _, r := range v.Remediations {
			if remedyRank[r.Category] == 0 || strings.TrimSpace(r.Details) == "" {
				continue
			}
			if r.Category == "mitigation" {
				if mitigations++; mitigations > 3 {
					continue
				}
			}
			vu.Remedies = append(vu.Remedies, Remedy{Category: r.Category, Details: clipText(r.Details, maxRemedy), Products: r.ProductIDs})
		}
		a.Vulns = append(a.Vulns, vu)
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("invalid CSAF document %s: %s", a.ID, strings.Join(errs, "; "))
	}
	return a, nil
}

func clipText(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) <= n {
		return s
	}
	cut := n
	for cut > 0 && s[cut]&0xC0 == 0x80 { // not inside a UTF-8 sequence
		cut--
	}
	return s[:cut] + "…"
}
