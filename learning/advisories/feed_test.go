package advisories

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/crypto/openpgp"

	"github.com/otwatch/otwatch/learning/store"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// TestMalformedDocumentsAreNamed: each broken document is refused with the
// JSON path of what is wrong; the good ones of the bundle are read.
func TestMalformedDocumentsAreNamed(t *testing.T) {
	good := readTestdata(t, "csaf/icsa-20-070-02.json")
	mutate := func(from, to string) []byte {
		require.Contains(t, string(good), from)
		return []byte(strings.Replace(string(good), from, to, 1))
	}
	files := Files{
		"good.json":          good,
		"truncated.json":     good[:len(good)/2],
		"version.json":       mutate(`"csaf_version": "2.0"`, `"csaf_version": "1.2"`),
		"undefined.json":     mutate(`"known_affected": [`, `"known_affected": ["CSAFPID-9999", `),
		"badcve.json":        mutate(`"cve": "CVE-2019-18336"`, `"cve": "CVE-19-1"`),
		"notracking.json":    mutate(`"tracking": {`, `"trackingx": {`),
		"dupid.json":         mutate(`"product_id": "CSAFPID-0002"`, `"product_id": "CSAFPID-0001"`),
		"score.json":         mutate(`"baseScore": 7.5`, `"baseScore": 75`),
		"other.json":         []byte(`{"hello": "world"}`),
		"notes.txt":          []byte("not a document"),
		"kev-truncated.json": []byte(strings.Replace(string(readTestdata(t, "kev-excerpt.json")), `"count": 2`, `"count": 1404`, 1)),
	}
	im := Read(files, Options{})
	require.Len(t, im.Advisories, 1)
	assert.Equal(t, "ICSA-20-070-02", im.Advisories[0].ID)
	assert.Equal(t, []string{"notes.txt"}, im.Skipped)
	want := map[string]string{
		"truncated.json":     "not valid JSON",
		"version.json":       `/document/csaf_version: "1.2", want "2.0"`,
		"undefined.json":     `/vulnerabilities/0/product_status: product "CSAFPID-9999" is not defined in the product tree (CSAF 6.1.1)`,
		"badcve.json":        `/vulnerabilities/0/cve: "CVE-19-1" is not a CVE id`,
		"notracking.json":    "/document/tracking: missing",
		"dupid.json":         `product_id "CSAFPID-0001" defined twice (CSAF 6.1.2)`,
		"score.json":         "/vulnerabilities/0/scores/0/cvss_v3/baseScore: 75 is outside 0–10",
		"other.json":         "not a CSAF 2.0 document nor a KEV catalog",
		"kev-truncated.json": "/count: 1404, but the catalog lists 2 entries (truncated file?)",
	}
	got := map[string]string{}
	for _, p := range im.Problems {
		got[p.File] = p.Err
	}
	assert.Len(t, got, len(want))
	for f, w := range want {
		assert.Contains(t, got[f], w, f)
	}
}

func hexSum(b []byte, h func([]byte) []byte) string { return hex.EncodeToString(h(b)) }
func s256(b []byte) []byte                          { s := sha256.Sum256(b); return s[:] }
func s512(b []byte) []byte                          { s := sha512.Sum512(b); return s[:] }

// TestBundleHashesAndSignatures: hash files beside a document (CSAF
// 7.1.18), a folder's SHA256SUMS and OpenPGP signatures (7.1.19) are
// checked; a mismatch refuses the document; the bundle digest changes with
// any byte.
func TestBundleHashesAndSignatures(t *testing.T) {
	a := readTestdata(t, "csaf/icsa-20-070-02.json")
	b := readTestdata(t, "csaf/icsa-18-282-05.json")
	c := readTestdata(t, "csaf/icsa-19-036-04.json")
	entity, err := openpgp.NewEntity("CSAF test signer", "", "csaf@example.org", nil)
	require.NoError(t, err)
	var sig bytes.Buffer
	require.NoError(t, openpgp.ArmoredDetachSign(&sig, entity, bytes.NewReader(c), nil))
	files := Files{
		"feed/a.json":        a,
		"feed/a.json.sha512": []byte(hexSum(a, s512) + "  a.json\n"),
		"feed/b.json":        b,
		"feed/SHA256SUMS":    []byte(hexSum(b, s256) + "  b.json\n"),
		"feed/c.json":        c,
		"feed/c.json.asc":    sig.Bytes(),
	}
	im := Read(files, Options{Keyring: openpgp.EntityList{entity}})
	require.Empty(t, im.Problems)
	assert.Equal(t, 3, im.Files)
	assert.Equal(t, 2, im.Verified)
	assert.Equal(t, 1, im.Signed)
	checks := map[string]string{}
	for _, adv := range im.Advisories {
		checks[adv.Source.File] = adv.Source.Check
	}
	assert.Equal(t, "a.json.sha512 matches", checks["feed/a.json"])
	assert.Equal(t, "listed in the folder's SUMS file", checks["feed/b.json"])
	assert.Contains(t, checks["feed/c.json"], "OpenPGP signature by ")
	assert.Contains(t, checks["feed/c.json"], "CSAF test signer")
	digest := im.Digest
	assert.Len(t, digest, 64)
	assert.Contains(t, im.Summary(), "2 of 3 documents verified by hash, 1 by signature; bundle sha256 "+digest)

	// without the keyring the signature is recorded, not checked
	im = Read(files, Options{})
	require.Empty(t, im.Problems)
	assert.Equal(t, 0, im.Signed)

	// one altered byte: refused by each check, with the reason
	altered := func(b []byte) []byte { x := append([]byte(nil), b...); x[len(x)/2] ^= 1; return x }
	bad := Files{}
	for k, v := range files {
		bad[k] = v
	}
	bad["feed/a.json"], bad["feed/b.json"], bad["feed/c.json"] = altered(a), altered(b), altered(c)
	im = Read(bad, Options{Keyring: openpgp.EntityList{entity}})
	assert.Empty(t, im.Advisories)
	errs := map[string]string{}
	for _, p := range im.Problems {
		errs[p.File] = p.Err
	}
	assert.Contains(t, errs["feed/a.json"], "its sha512 differs from a.json.sha512")
	assert.Contains(t, errs["feed/b.json"], "its hash differs from the SUMS file of its folder")
	assert.Contains(t, errs["feed/c.json"], "its OpenPGP signature c.json.asc does not verify")
	// another signer is refused too
	other, err := openpgp.NewEntity("someone else", "", "x@example.org", nil)
	require.NoError(t, err)
	im = Read(files, Options{Keyring: openpgp.EntityList{other}})
	require.Len(t, im.Problems, 1)
	assert.Equal(t, "feed/c.json", im.Problems[0].File)
	assert.NotEqual(t, digest, Read(Files{"feed/a.json": a}, Options{}).Digest)
}

// TestReimportReplacesNeverDuplicates: importing the same documents again
// replaces them; an older revision of a stored advisory is not rolled back;
// the feed survives a reopen of the database.
func TestReimportReplacesNeverDuplicates(t *testing.T) {
	path := filepath.Join(t.TempDir(), "state.db")
	st, err := store.Open(path)
	require.NoError(t, err)
	imp := func(files Files) *Plan {
		f, err := LoadFeed(st)
		require.NoError(t, err)
		p, err := f.Plan(Read(files, Options{Now: time.Now()}))
		require.NoError(t, err)
		require.NoError(t, p.Write(st))
		f.Commit(p)
		return p
	}
	all, err := ReadPaths([]string{"testdata/csaf", "testdata/kev-excerpt.json"})
	require.NoError(t, err)
	p := imp(all)
	assert.Equal(t, 12, p.Added)
	assert.Equal(t, "KEV catalog 2025.08.25 added", p.KEV)
	p = imp(all)
	assert.Equal(t, 0, p.Added)
	assert.Equal(t, 12, p.Replaced)
	assert.Equal(t, "KEV catalog 2025.08.25 replaces 2025.08.25", p.KEV)
	// an older revision of ICSA-20-070-02 (an earlier current_release_date)
	doc := readTestdata(t, "csaf/icsa-20-070-02.json")
	older := strings.Replace(string(doc), `"current_release_date": "2020-`, `"current_release_date": "2019-`, 1)
	require.NotEqual(t, string(doc), older)
	p = imp(Files{"old.json": []byte(older)})
	assert.Equal(t, 0, p.Replaced)
	require.Len(t, p.KeptNewer, 1)
	assert.Contains(t, p.String(), "kept (a newer revision is stored: ICSA-20-070-02")
	require.NoError(t, st.Close())

	st, err = store.Open(path)
	require.NoError(t, err)
	defer st.Close()
	f, err := LoadFeed(st)
	require.NoError(t, err)
	s := f.Summary()
	assert.Equal(t, 12, s.Advisories)
	assert.Equal(t, "2025.08.25", s.KEVVersion)
	assert.Equal(t, 2, s.KEVEntries)
	a, ok := f.Advisory("ICSA-20-070-02")
	require.True(t, ok)
	assert.Equal(t, "2020", a.Updated.Format("2006"), "the newer revision stayed")
	// a damaged stored value is an error naming the key, not a crash
	require.NoError(t, st.PutBlobs(Bucket, map[string][]byte{"csaf/ICSA-X": []byte("not gzip")}))
	_, err = LoadFeed(st)
	assert.ErrorContains(t, err, "advisories/csaf/ICSA-X")
}

func FuzzParseCSAF(f *testing.F) {
	for _, name := range []string{"csaf/icsa-20-070-02.json", "csaf/icsa-17-353-01.json", "kev-excerpt.json"} {
		b, err := os.ReadFile(filepath.Join("testdata", name))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Add([]byte(`{"document":{"csaf_version":"2.0"},"product_tree":{"branches":[{"category":"vendor","name":"x","branches":[{"branches":[]}]}]}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		im := Read(Files{"x.json": b}, Options{})
		if len(im.Advisories)+len(im.Problems)+len(im.Skipped) == 0 && im.KEV == nil {
			t.Fatal("a document neither read nor refused")
		}
		for _, a := range im.Advisories {
			fd := NewFeed()
			p, err := fd.Plan(&Import{Advisories: []*Advisory{a}})
			if err != nil {
				t.Fatal(err)
			}
			fd.Commit(p)
			as := asset("x", "s7comm", "szl_0x0011", 1, "order_number", "6ES7 315-2EH14-0AB0", "firmware", "V3.2.7", "vendor_name", "ABB")
			fd.Match(&as)
		}
	})
}
