package advisories

import (
	"bytes"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/crypto/openpgp"
)

// Files is a feed bundle as read from disk or uploaded: slash-separated
// names to contents. Beside each document may sit its hash (NAME.sha256,
// NAME.sha512: CSAF 2.0 section 7.1.18) and its OpenPGP signature
// (NAME.asc, 7.1.19); a SHA256SUMS or SHA512SUMS file (sha256sum's
// format) covers the documents of its folder.
type Files map[string][]byte

// Bounds on what one import reads.
const (
	MaxFiles      = 20000
	MaxFileBytes  = 64 << 20
	MaxTotalBytes = 1 << 30
)

// ReadPaths reads files and folders (recursively) into a bundle. A file
// given alone brings the hash and signature files beside it.
func ReadPaths(paths []string) (Files, error) {
	out := Files{}
	var total int64
	add := func(name, file string) error {
		st, err := os.Stat(file)
		if err != nil {
			return err
		}
		if !st.Mode().IsRegular() {
			return nil
		}
		if st.Size() > MaxFileBytes {
			return fmt.Errorf("%s: %d bytes, more than %d", file, st.Size(), MaxFileBytes)
		}
		if len(out) >= MaxFiles {
			return fmt.Errorf("more than %d files", MaxFiles)
		}
		if total += st.Size(); total > MaxTotalBytes {
			return fmt.Errorf("more than %d bytes in all", MaxTotalBytes)
		}
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		out[name] = b
		return nil
	}
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, err
		}
		if !st.IsDir() {
			base := filepath.Base(p)
			if err := add(base, p); err != nil {
				return nil, err
			}
			for _, ext := range []string{".sha256", ".sha512", ".asc"} {
				if _, err := os.Stat(p + ext); err == nil {
					if err := add(base+ext, p+ext); err != nil {
						return nil, err
					}
				}
			}
			continue
		}
		root := filepath.Base(filepath.Clean(p))
		err = filepath.WalkDir(p, func(file string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if d.IsDir() || strings.HasPrefix(d.Name(), ".") {
				return nil
			}
			rel, _ := filepath.Rel(p, file)
			return add(path.Join(root, filepath.ToSlash(rel)), file)
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// Import is one bundle read and checked: what it holds, what was wrong.
type Import struct {
	Advisories []*Advisory
	KEV        *KEV
	Problems   []Problem // files refused, each with why; the rest is imported
	Skipped    []string  // files that are no document (ROLIE feed indexes, notes)
	Files      int       // documents read
	Verified   int       // whose hash file or SUMS entry matched
	Signed     int       // whose OpenPGP signature was verified
	// Digest is the SHA-256 of the sorted "sha256  name" lines of every
	// document accepted: the bundle's fingerprint in the audit log.
	Digest string
}

// Problem is a refused file.
type Problem struct {
	File string `json:"file"`
	Err  string `json:"error"`
}

// Options for reading a bundle.
type Options struct {
	// Keyring verifies NAME.asc signatures; without it a signature is
	// recorded as present but not checked.
	Keyring openpgp.EntityList
	Now     time.Time
}

// ReadKeyring reads an ASCII-armoured OpenPGP public key file (a vendor's
// or CISA's signing key).
func ReadKeyring(file string) (openpgp.EntityList, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	kr, err := openpgp.ReadArmoredKeyRing(f)
	if err != nil {
		return nil, fmt.Errorf("%s: not an armoured OpenPGP key: %w", file, err)
	}
	return kr, nil
}

// Read checks and parses a bundle. A document whose hash or signature does
// not match, or that is malformed, is refused with a named problem; the
// others are read.
func Read(files Files, opt Options) *Import {
	if opt.Now.IsZero() {
		opt.Now = time.Now()
	}
	im := &Import{}
	sums := map[string]string{} // name → expected hex, from SUMS files
	for name, b := range files {
		base := path.Base(name)
		if base != "SHA256SUMS" && base != "SHA512SUMS" {
			continue
		}
		dir := path.Dir(name)
		for i, line := range strings.Split(string(b), "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			f := strings.Fields(line)
			if len(f) != 2 {
				im.Problems = append(im.Problems, Problem{name, fmt.Sprintf("line %d: not \"HASH  NAME\"", i+1)})
				continue
			}
			sums[path.Join(dir, strings.TrimPrefix(f[1], "*"))] = strings.ToLower(f[0])
		}
	}
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	var digest []string
	for _, name := range names {
		lower := strings.ToLower(name)
		if !strings.HasSuffix(lower, ".json") {
			if !companion(lower) {
				im.Skipped = append(im.Skipped, name)
			}
			continue
		}
		data := files[name]
		im.Files++
		sum := sha256.Sum256(data)
		src := Source{File: name, SHA256: hex.EncodeToString(sum[:]), Imported: opt.Now.UTC()}
		check, signed, err := verify(name, data, files, sums, opt.Keyring)
		if err != nil {
			im.Problems = append(im.Problems, Problem{name, err.Error()})
			continue
		}
		src.Check = check
		switch {
		case signed:
			im.Signed++
		case check != "none":
			im.Verified++
		}
		switch kind := sniff(data); kind {
		case "rolie":
			im.Skipped = append(im.Skipped, name+" (a ROLIE feed index, not an advisory)")
			continue
		case "kev":
			k, err := ParseKEV(data)
			if err != nil {
				im.Problems = append(im.Problems, Problem{name, err.Error()})
				continue
			}
			k.Source = src
			if im.KEV != nil {
				im.Problems = append(im.Problems, Problem{name, "a second KEV catalog in one import (" + im.KEV.Source.File + " is read)"})
				continue
			}
			im.KEV = k
		default:
			a, err := ParseCSAF(data)
			if err != nil {
				if errors.Is(err, ErrNotCSAF) {
					err = fmt.Errorf("%w (no /document)", err)
				}
				im.Problems = append(im.Problems, Problem{name, err.Error()})
				continue
			}
			a.Source = src
			im.Advisories = append(im.Advisories, a)
		}
		digest = append(digest, src.SHA256+"  "+name)
	}
	h := sha256.Sum256([]byte(strings.Join(digest, "\n")))
	im.Digest = hex.EncodeToString(h[:])
	return im
}

func companion(name string) bool {
	for _, ext := range []string{".sha256", ".sha512", ".asc"} {
		if strings.HasSuffix(name, ".json"+ext) {
			return true
		}
	}
	b := path.Base(name)
	return b == "sha256sums" || b == "sha512sums"
}

// sniff tells a KEV catalog and a ROLIE feed from a CSAF document.
func sniff(data []byte) string {
	var probe struct {
		Feed           *json.RawMessage `json:"feed"`
		CatalogVersion *json.RawMessage `json:"catalogVersion"`
	}
	if json.Unmarshal(data, &probe) == nil {
		switch {
		case probe.Feed != nil:
			return "rolie"
		case probe.CatalogVersion != nil && isKEV(data):
			return "kev"
		}
	}
	return "csaf"
}

// verify checks a document against the hash files and signature beside it.
func verify(name string, data []byte, files Files, sums map[string]string, keyring openpgp.EntityList) (check string, signed bool, err error) {
	var checks []string
	for _, alg := range []struct {
		ext string
		h   func() hash.Hash
	}{{".sha256", sha256.New}, {".sha512", sha512.New}} {
		b, ok := files[name+alg.ext]
		if !ok {
			continue
		}
		want := strings.ToLower(strings.Fields(string(b) + " x")[0])
		h := alg.h()
		h.Write(data)
		if got := hex.EncodeToString(h.Sum(nil)); got != want {
			return "", false, fmt.Errorf("its %s differs from %s%s: the file was altered or truncated", strings.TrimPrefix(alg.ext, "."), path.Base(name), alg.ext)
		}
		checks = append(checks, path.Base(name)+alg.ext+" matches")
	}
	if want, ok := sums[name]; ok {
		var h hash.Hash = sha256.New()
		if len(want) == 128 {
			h = sha512.New()
		}
		h.Write(data)
		if hex.EncodeToString(h.Sum(nil)) != want {
			return "", false, fmt.Errorf("its hash differs from the SUMS file of its folder: the file was altered or truncated")
		}
		checks = append(checks, "listed in the folder's SUMS file")
	}
	if sig, ok := files[name+".asc"]; ok {
		if keyring == nil {
			checks = append(checks, "signature "+path.Base(name)+".asc present, not checked (no keyring given)")
		} else {
			signer, err := openpgp.CheckArmoredDetachedSignature(keyring, bytes.NewReader(data), bytes.NewReader(sig))
			if err != nil {
				return "", false, fmt.Errorf("its OpenPGP signature %s.asc does not verify: %v", path.Base(name), err)
			}
			who := fmt.Sprintf("%X", signer.PrimaryKey.Fingerprint)
			ids := make([]string, 0, len(signer.Identities))
			for id := range signer.Identities {
				ids = append(ids, id)
			}
			sort.Strings(ids)
			if len(ids) > 0 {
				who += " (" + ids[0] + ")"
			}
			checks = append(checks, "OpenPGP signature by "+who+" verified")
			signed = true
		}
	}
	if len(checks) == 0 {
		return "none", false, nil
	}
	return strings.Join(checks, "; "), signed, nil
}

// Summary is one line for the operator and the audit log.
func (im *Import) Summary() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d CSAF advisories", len(im.Advisories))
	if im.KEV != nil {
		fmt.Fprintf(&b, ", KEV catalog %s (%d entries)", im.KEV.Version, len(im.KEV.Entries))
	}
	fmt.Fprintf(&b, "; %d of %d documents verified by hash, %d by signature", im.Verified, im.Files, im.Signed)
	if len(im.Problems) > 0 {
		fmt.Fprintf(&b, "; %d refused", len(im.Problems))
	}
	fmt.Fprintf(&b, "; bundle sha256 %s", im.Digest)
	return b.String()
}
