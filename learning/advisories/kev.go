package advisories

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"
)

// KEV is CISA's Known Exploited Vulnerabilities catalog: the CVEs seen
// exploited in the wild. A match whose CVE is listed ranks first.
type KEV struct {
	Title    string              `json:"title"`
	Version  string              `json:"version"` // catalogVersion, e.g. 2025.08.25
	Released time.Time           `json:"released"`
	Entries  map[string]KEVEntry `json:"entries"` // by CVE id
	Source   Source              `json:"source"`
}

// KEVEntry is one catalog entry.
type KEVEntry struct {
	Vendor     string `json:"vendor"`
	Product    string `json:"product"`
	Name       string `json:"name"`
	Added      string `json:"added"` // YYYY-MM-DD
	Due        string `json:"due,omitempty"`
	Ransomware bool   `json:"ransomware,omitempty"` // knownRansomwareCampaignUse "Known"
	Action     string `json:"action,omitempty"`
}

type kevDoc struct {
	Title           *string `json:"title"`
	CatalogVersion  string  `json:"catalogVersion"`
	DateReleased    string  `json:"dateReleased"`
	Count           *int    `json:"count"`
	Vulnerabilities []struct {
		CVEID             string `json:"cveID"`
		VendorProject     string `json:"vendorProject"`
		Product           string `json:"product"`
		VulnerabilityName string `json:"vulnerabilityName"`
		DateAdded         string `json:"dateAdded"`
		RequiredAction    string `json:"requiredAction"`
		DueDate           string `json:"dueDate"`
		Ransomware        string `json:"knownRansomwareCampaignUse"`
	} `json:"vulnerabilities"`
}

// maxKEV bounds the catalog (1,404 entries in August 2025).
const maxKEV = 100000

// isKEV says whether a JSON document looks like the KEV catalog.
func isKEV(data []byte) bool {
	var probe struct {
		CatalogVersion *string          `json:"catalogVersion"`
		Vulns          *json.RawMessage `json:"vulnerabilities"`
	}
	return json.Unmarshal(data, &probe) == nil && probe.CatalogVersion != nil && probe.Vulns != nil
}

// ParseKEV reads and checks the catalog: a version, a release date, a
// count equal to the entries, and each entry a CVE id with its date added.
func ParseKEV(data []byte) (*KEV, error) {
	var d kevDoc
	if err := json.Unmarshal(data, &d); err != nil {
		return nil, fmt.Errorf("not valid JSON: %w", err)
	}
	var errs docErrors
	k := &KEV{Version: strings.TrimSpace(d.CatalogVersion), Entries: map[string]KEVEntry{}}
	if d.Title != nil {
		k.Title = *d.Title
	}
	if k.Version == "" {
		errs.add("/catalogVersion", "missing")
	}
	var err error
	if k.Released, err = time.Parse(time.RFC3339, d.DateReleased); err != nil {
		errs.add("/dateReleased", "%q is not an RFC 3339 date", d.DateReleased)
	}
	if len(d.Vulnerabilities) > maxKEV {
		errs.add("/vulnerabilities", "more than %d entries", maxKEV)
		d.Vulnerabilities = nil
	}
	if d.Count == nil || *d.Count != len(d.Vulnerabilities) {
		n := -1
		if d.Count != nil {
			n = *d.Count
		}
		errs.add("/count", "%d, but the catalog lists %d entries (truncated file?)", n, len(d.Vulnerabilities))
	}
	for i, v := range d.Vulnerabilities {
		p := fmt.Sprintf("/vulnerabilities/%d", i)
		if !cveID().MatchString(v.CVEID) {
			errs.add(p+"/cveID", "%q is not a CVE id", v.CVEID)
			continue
		}
		if _, err := time.Parse("2006-01-02", v.DateAdded); err != nil {
			errs.add(p+"/dateAdded", "%q is not a date", v.DateAdded)
		}
		if _, dup := k.Entries[v.CVEID]; dup {
			errs.add(p+"/cveID", "%s listed twice", v.CVEID)
		}
		k.Entries[v.CVEID] = KEVEntry{Vendor: v.VendorProject, Product: v.Product, Name: v.VulnerabilityName, Added: v.DateAdded,
			Due: v.DueDate, Ransomware: strings.EqualFold(v.Ransomware, "Known"), Action: clipText(v.RequiredAction, maxRemedy)}
	}
	if len(errs) > 0 {
		return nil, fmt.Errorf("invalid KEV catalog %s: %s", k.Version, strings.Join(errs, "; "))
	}
	return k, nil
}
