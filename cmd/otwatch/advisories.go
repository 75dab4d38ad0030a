package main

import (
	"encoding/csv"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/otwatch/otwatch/cmd/otwatch/config"
	"github.com/otwatch/otwatch/learning/advisories"
	"github.com/otwatch/otwatch/learning/conversations"
	"github.com/otwatch/otwatch/learning/inventory"
	"github.com/otwatch/otwatch/learning/store"
	"github.com/otwatch/otwatch/learning/zones"
	"github.com/otwatch/otwatch/ui"
	"golang.org/x/crypto/openpgp"
)

// cmdAdvisories imports the security advisories an operator brings (CSAF
// 2.0 documents, CISA's KEV catalog) into the state database, or lists the
// assets to patch first.
func cmdAdvisories(args []string, stdout, stderr io.Writer) int {
	return dispatchGroup("advisories", args, stdout, stderr, map[string]func([]string) int{
		"import": func(args []string) int {
			const name = "advisories import"
			fs := newFlags(name)
			sf := addStateFlags(fs)
			keyring := fs.String("keyring", "", "an armoured OpenPGP public key `FILE` (NAME.asc) that signs the documents")
			pos, err := parseFlags(fs, name, args, stdout, stderr, false)
			switch {
			case errors.Is(err, flag.ErrHelp):
				return 0
			case err != nil:
				return 2
			case len(pos) == 0:
				usageError(stderr, name, fs, "give the advisory files or directories to import", false)
				return 2
			}
			db, err := sf.path()
			if err != nil {
				fmt.Fprintf(stderr, "otwatch %s: %v\n", name, err)
				return 2
			}
			return advisoriesImport(db, *keyring, pos, stdout, stderr)
		},
		"list": func(args []string) int {
			const name = "advisories list"
			fs := newFlags(name)
			sf := addStateFlags(fs)
			zonesFile := fs.String("zones", "", "zones and conduits `FILE` (or the daemon's configuration); a running daemon uses its own")
			format := fs.String("format", "text", "text or json")
			if _, code, ok := noFlagsWith(fs, name, args, 0, stdout, stderr); !ok {
				return code
			}
			if *format != "text" && *format != "json" {
				usageError(stderr, name, fs, fmt.Sprintf("--format %q: want text or json", *format), false)
				return 2
			}
			db, err := sf.path()
			if err != nil {
				fmt.Fprintf(stderr, "otwatch %s: %v\n", name, err)
				return 2
			}
			return advisoriesList(db, *zonesFile, *format, stdout, stderr)
		},
	})
}

func advisoriesImport(db, keyring string, paths []string, stdout, stderr io.Writer) int {
	opt := advisories.Options{Now: time.Now()}
	if keyring != "" {
		kr, err := advisories.ReadKeyring(keyring)
		if err != nil {
			fmt.Fprintf(stderr, "otwatch advisories: %v\n", err)
			return 2
		}
		opt.Keyring = kr
	}
	files, err := advisories.ReadPaths(paths)
	if err != nil {
		fmt.Fprintf(stderr, "otwatch advisories: %v\n", err)
		return 2
	}
	im := advisories.Read(files, opt)
	for _, p := range im.Problems {
		fmt.Fprintf(stderr, "otwatch advisories: %s: refused: %s\n", p.File, p.Err)
	}
	st, err := store.Open(db)
	if err != nil {
		fmt.Fprintf(stderr, "otwatch advisories: %v\n", err)
		return 2
	}
	defer st.Close()
	feed, err := advisories.LoadFeed(st)
	if err != nil {
		fmt.Fprintf(stderr, "otwatch advisories: %v\n", err)
		return 2
	}
	plan, err := feed.Plan(im)
	if err == nil {
		err = plan.Write(st)
	}
	audit := ui.AuditEntry{TS: time.Now(), User: "cli:" + osUser(), Addr: "local", Action: "advisories_import",
		Target: strings.Join(paths, " "), OK: err == nil}
	if err != nil {
		audit.Detail = err.Error()
	} else {
		audit.Detail = im.Summary() + "; " + plan.String()
	}
	if aerr := recordAudit(db, audit); aerr != nil {
		fmt.Fprintf(stderr, "otwatch advisories: audit log: %v\n", aerr)
	}
	if err != nil {
		fmt.Fprintf(stderr, "otwatch advisories: %v\n", err)
		return 2
	}
	feed.Commit(plan)
	fmt.Fprintf(stdout, "read %s\n%s\n", im.Summary(), plan)
	s := feed.Summary()
	fmt.Fprintf(stdout, "the database holds %d advisories (%d product entries)", s.Advisories, s.Products)
	if s.KEVVersion != "" {
		fmt.Fprintf(stdout, " and KEV catalog %s (%d entries)", s.KEVVersion, s.KEVEntries)
	}
	fmt.Fprintln(stdout)
	switch {
	case len(im.Advisories) == 0 && im.KEV == nil:
		return 2
	case len(im.Problems) > 0:
		return 1
	}
	return 0
}

func osUser() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return strconv.Itoa(os.Getuid())
}

// recordAudit appends to the dashboard's audit log beside the database
// (where the daemon's dashboard keeps it), so the imports made on the
// command line show with those made on the dashboard.
func recordAudit(db string, e ui.AuditEntry) error {
	dir := filepath.Join(filepath.Dir(db), "dashboard")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	l, err := ui.OpenAuditLog(filepath.Join(dir, "audit.log"))
	if err != nil {
		return err
	}
	defer l.Close()
	return l.Record(e)
}

// loadReport is the patch-first list of the state file at db: the running
// daemon's (its live state, its zones) when one holds the file, else
// assessed here from the file.
func loadReport(db, zonesFile string) (*advisories.Report, error) {
	if daemonAnswers(db) {
		return askDaemonPatchFirst(db)
	}
	inv := inventory.New(inventory.Limits{})
	convs := conversations.New(0)
	policy, err := zonesFor(inv, zonesFile)
	if err != nil {
		return nil, err
	}
	if _, err := loadState(db, map[string]store.Component{"inventory": inv, "conversations": convs}); err != nil {
		return nil, err
	}
	return assessFile(db, inv, convs, policy)
}

// patchFirstOf is the patch-first list of the state at db whose inventory
// and conversations the caller loaded: the running daemon's when one holds
// the file, else the file's advisories assessed against them.
func patchFirstOf(db string, inv *inventory.Inventory, convs *conversations.Detector, policy *zones.Policy) (*advisories.Report, error) {
	if daemonAnswers(db) {
		return askDaemonPatchFirst(db)
	}
	return assessFile(db, inv, convs, policy)
}

// assessFile assesses the advisories imported into the state file at db
// against the inventory and conversations loaded from it.
func assessFile(db string, inv *inventory.Inventory, convs *conversations.Detector, policy *zones.Policy) (*advisories.Report, error) {
	st, err := store.OpenReadOnly(db, readOnlyWait)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	feed, err := advisories.LoadFeed(st)
	if err != nil {
		return nil, err
	}
	r := feed.Assess(observedOf(inv, convs, policy), time.Now())
	return &r, nil
}

// zonesFor reads a zones file ("" for none) and places inv's assets in it.
func zonesFor(inv *inventory.Inventory, zonesFile string) (*zones.Policy, error) {
	if zonesFile == "" {
		return nil, nil
	}
	seg, err := config.LoadSegmentation(zonesFile)
	if err != nil {
		return nil, err
	}
	policy, err := seg.Policy()
	if err != nil {
		return nil, err
	}
	inv.ZoneOf = zoneLookup(policy)
	return policy, nil
}

func advisoriesList(db, zonesFile, format string, stdout, stderr io.Writer) int {
	r, err := loadReport(db, zonesFile)
	if err != nil {
		fmt.Fprintf(stderr, "otwatch advisories list: %v\n", err)
		return 2
	}
	if format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(r); err != nil {
			fmt.Fprintf(stderr, "otwatch advisories list: %v\n", err)
			return 2
		}
		return 0
	}
	writeReport(stdout, *r)
	return 0
}

// writeReport prints the patch-first list for a terminal.
func writeReport(w io.Writer, r advisories.Report) {
	fmt.Fprintf(w, "feed: %d advisories, KEV %s; %d assets to patch, %d with identity undecided\n",
		r.Feed.Advisories, orNone(r.Feed.KEVVersion), len(r.PatchFirst), len(r.Undecided))
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "RANK\tSCORE\tASSET\tIDENTITY\tKEV\tMAX CVSS\tCVES\tPATH")
	for _, x := range r.PatchFirst {
		path := "-"
		if len(x.Paths) > 0 {
			path = pathText(x.Paths[0])
		}
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%d\t%.1f\t%d\t%s\n", x.Rank, x.Score, strings.Join(x.IPs, ","), x.Identity, len(x.KEV), x.MaxCVSS, len(x.CVEs), path)
	}
	tw.Flush()
	for _, x := range r.PatchFirst {
		fmt.Fprintf(w, "\n#%d %s (%s): score %d\n", x.Rank, strings.Join(x.IPs, ","), x.Identity, x.Score)
		for _, reason := range x.Reasons {
			fmt.Fprintf(w, "  +%d %s\n", reason.Points, reason.Why)
		}
		for _, m := range x.Match.Affected {
			ids := make([]string, 0, len(m.CVEs))
			for _, c := range m.CVEs {
				ids = append(ids, c.ID)
			}
			fmt.Fprintf(w, "  %s [%s, %s] %s: %s\n", m.Advisory, m.Confidence, m.How, strings.Join(ids, " "), m.Reason)
		}
	}
	for _, x := range r.Undecided {
		fmt.Fprintf(w, "\nundecided %s (%s): %d possible matches; missing: %s\n", strings.Join(x.IPs, ","), orNone(x.Identity),
			len(x.Match.Possible), orNone(strings.Join(append(x.Match.Missing, x.Match.Notes...), "; ")))
	}
}

func pathText(p advisories.Path) string {
	if len(p.Hops) == 0 {
		return strings.Join(p.EntryIPs, ",") + " is an entry point"
	}
	parts := []string{strings.Join(p.EntryIPs, ",")}
	for _, h := range p.Hops {
		parts = append(parts, h.Proto+"→ "+h.To)
	}
	return strings.Join(parts, " ")
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}

// observedOf is the ranking's view of a monitor's state.
func observedOf(inv *inventory.Inventory, convs *conversations.Detector, policy *zones.Policy) advisories.Observed {
	o := advisories.Observed{Doc: inv.Document(), Zoned: policy != nil}
	for _, k := range convs.List() {
		o.Conversations = append(o.Conversations, advisories.Conversation{Client: k.Client, Server: k.Server, Proto: k.Proto, Port: k.Port})
	}
	if policy != nil {
		o.ZoneOf = func(ip netip.Addr) (string, int, bool) {
			z, ok := policy.ZoneOf(ip)
			return z.Name, z.Level, ok
		}
	}
	return o
}

// vulns is the monitor's vulnerability ranking: the imported feed and the
// watch that raises vulnerable_asset.
type vulns struct {
	feed    *advisories.Feed
	watch   *advisories.Watch
	keyring openpgp.EntityList // checks the dashboard's uploads (advisories.keyring)
	last    time.Time          // when it last looked (packet or wall time)
	report  *advisories.Report // the last ranking, for the dashboard
}

// vulnCheckEvery: the daemon re-ranks this often (identity and links change slowly).
const vulnCheckEvery = 15 * time.Second

func newVulns() *vulns { return &vulns{feed: advisories.NewFeed(), watch: advisories.NewWatch()} }

// loadFeed reads the imported feed from the database.
func (m *monitor) loadFeed(st *store.Store) error {
	f, err := advisories.LoadFeed(st)
	if err != nil {
		return err
	}
	m.vulns.feed = f
	return nil
}

// assess ranks the assets now.
func (m *monitor) assess(now time.Time) advisories.Report {
	return m.vulns.feed.Assess(observedOf(m.inv, m.convs, m.zones), now)
}

// checkVulns raises vulnerable_asset for assets newly found with a known
// exploited or critical match.
func (m *monitor) checkVulns(now time.Time) {
	m.vulns.last = now
	if m.vulns.feed.Summary().Advisories == 0 {
		return
	}
	r := m.assess(now)
	m.vulns.report = &r
	m.raise(m.vulns.watch.Check(r))
}

// tickVulns checks every vulnCheckEvery.
func (m *monitor) tickVulns(now time.Time) {
	if now.Sub(m.vulns.last) >= vulnCheckEvery {
		m.checkVulns(now)
	}
}

// writePatchCSV appends the patch-first list to the inventory CSV: one row
// per vulnerable asset, type "patch", in the same columns (identity: the
// identity; ops: rank, score, highest CVSS, KEV CVEs, CVEs).
func writePatchCSV(w io.Writer, r advisories.Report) error {
	cw := csv.NewWriter(w)
	for _, x := range r.PatchFirst {
		ids := make([]string, 0, len(x.CVEs))
		for _, c := range x.CVEs {
			ids = append(ids, c.ID)
		}
		ops := fmt.Sprintf("rank=%d;score=%d;max_cvss=%.1f;kev=%s;cves=%s", x.Rank, x.Score, x.MaxCVSS, strings.Join(x.KEV, " "), strings.Join(ids, " "))
		level := ""
		if x.Level != nil {
			level = strconv.Itoa(*x.Level)
		}
		row := []string{"patch", x.Asset, "", "", "", strings.Join(x.IPs, ";"), "", "", strings.Join(x.Roles, ";"), "", x.Identity, ops,
			"", "", "", "", x.Zone, level}
		if err := cw.Write(row); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}
