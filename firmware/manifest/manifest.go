// Package manifest describes a firmware image: the versions it was built
// from, the SHA-256 of the whole image, of each partition and of every file
// put into it, and an ed25519 signature over that text. The format is plain
// text, one record per line, sorted, so two builds of the same commit give
// the same bytes and a reviewer can diff two releases.
//
//	otwatch-image-manifest 1
//	version <name> <value>
//	image <name> size <bytes> sha256 <hex>
//	partition <name> offset <bytes> size <bytes> sha256 <hex>
//	file <path> size <bytes> mode <octal> sha256 <hex>
//
// Names, values and paths carry no white space.
package manifest

import (
	"bufio"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// Header is the first line of every manifest.
const Header = "otwatch-image-manifest 1"

// Manifest is the parsed form. Entries keep the order Marshal writes:
// versions, images, partitions, files, each sorted by name.
type Manifest struct {
	Versions   []Version
	Images     []Region // whole images (offset 0)
	Partitions []Region
	Files      []File
}

// Version names one input: otwatch, the kernel, a Debian package, Go.
type Version struct{ Name, Value string }

// Region is a byte range of an image file and its digest.
type Region struct {
	Name   string
	Offset int64
	Size   int64
	SHA256 [32]byte
}

// File is one file of the image's file systems, path relative to the tree.
type File struct {
	Path   string
	Size   int64
	Mode   fs.FileMode // permission bits only
	SHA256 [32]byte
}

func checkToken(kind, s string) error {
	if s == "" || strings.ContainsAny(s, " \t\r\n") {
		return fmt.Errorf("manifest: %s %q: empty or contains white space", kind, s)
	}
	return nil
}

// Marshal writes the canonical text: sorted, one record per line.
func (m *Manifest) Marshal() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(Header + "\n")
	vs := append([]Version(nil), m.Versions...)
	sort.Slice(vs, func(i, j int) bool { return vs[i].Name < vs[j].Name })
	for _, v := range vs {
		if err := checkToken("version name", v.Name); err != nil {
			return nil, err
		}
		if err := checkToken("version value", v.Value); err != nil {
			return nil, err
		}
		fmt.Fprintf(&b, "version %s %s\n", v.Name, v.Value)
	}
	for _, group := range []struct {
		kind string
		rs   []Region
	}{{"image", m.Images}, {"partition", m.Partitions}} {
		rs := append([]Region(nil), group.rs...)
		sort.Slice(rs, func(i, j int) bool { return rs[i].Name < rs[j].Name })
		for _, r := range rs {
			if err := checkToken(group.kind, r.Name); err != nil {
				return nil, err
			}
			if group.kind == "image" {
				fmt.Fprintf(&b, "image %s size %d sha256 %x\n", r.Name, r.Size, r.SHA256)
			} else {
				fmt.Fprintf(&b, "partition %s offset %d size %d sha256 %x\n", r.Name, r.Offset, r.Size, r.SHA256)
			}
		}
	}
	files := append([]File(nil), m.Files...)
	sort.Slice(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	for i, f := range files {
		if err := checkToken("file path", f.Path); err != nil {
			return nil, err
		}
		if i > 0 && files[i-1].Path == f.Path {
			return nil, fmt.Errorf("manifest: file %s listed twice", f.Path)
		}
		fmt.Fprintf(&b, "file %s size %d mode %04o sha256 %x\n", f.Path, f.Size, f.Mode.Perm(), f.SHA256)
	}
	return b.Bytes(), nil
}

// Parse reads the text Marshal writes and refuses anything else, including
// a text that is not in canonical form (so a signature covers exactly one
// meaning).
func Parse(data []byte) (*Manifest, error) {
	m := &Manifest{}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 4096), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		text := sc.Text()
		if line == 1 {
			if text != Header {
				return nil, fmt.Errorf("manifest: line 1: want %q", Header)
			}
			continue
		}
		f := strings.Split(text, " ")
		bad := func(what string) error { return fmt.Errorf("manifest: line %d: %s: %q", line, what, text) }
		switch {
		case f[0] == "version" && len(f) == 3:
			m.Versions = append(m.Versions, Version{Name: f[1], Value: f[2]})
		case f[0] == "image" && len(f) == 6 && f[2] == "size" && f[4] == "sha256":
			r := Region{Name: f[1]}
			var err error
			if r.Size, err = strconv.ParseInt(f[3], 10, 64); err != nil || r.Size < 0 {
				return nil, bad("bad size")
			}
			if r.SHA256, err = parseDigest(f[5]); err != nil {
				return nil, bad("bad digest")
			}
			m.Images = append(m.Images, r)
		case f[0] == "partition" && len(f) == 8 && f[2] == "offset" && f[4] == "size" && f[6] == "sha256":
			r := Region{Name: f[1]}
			var err1, err2, err3 error
			r.Offset, err1 = strconv.ParseInt(f[3], 10, 64)
			r.Size, err2 = strconv.ParseInt(f[5], 10, 64)
			r.SHA256, err3 = parseDigest(f[7])
			if err1 != nil || err2 != nil || err3 != nil || r.Offset < 0 || r.Size < 0 {
				return nil, bad("bad partition")
			}
			m.Partitions = append(m.Partitions, r)
		case f[0] == "file" && len(f) == 8 && f[2] == "size" && f[4] == "mode" && f[6] == "sha256":
			fl := File{Path: f[1]}
			var err1, err2, err3 error
			fl.Size, err1 = strconv.ParseInt(f[3], 10, 64)
			mode, err2 := strconv.ParseUint(f[5], 8, 32)
			fl.SHA256, err3 = parseDigest(f[7])
			if err1 != nil || err2 != nil || err3 != nil || fl.Size < 0 || mode > 0o7777 {
				return nil, bad("bad file")
			}
			fl.Mode = fs.FileMode(mode)
			m.Files = append(m.Files, fl)
		default:
			return nil, bad("unknown record")
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if line == 0 {
		return nil, errors.New("manifest: empty")
	}
	canon, err := m.Marshal()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(canon, data) {
		return nil, errors.New("manifest: not in canonical form (sorted records, single spaces, final newline)")
	}
	return m, nil
}

func parseDigest(s string) ([32]byte, error) {
	var d [32]byte
	if len(s) != 64 || strings.ToLower(s) != s {
		return d, errors.New("want 64 lower-case hex digits")
	}
	_, err := hex.Decode(d[:], []byte(s))
	return d, err
}

// HashTree lists every regular file and symbolic link under root (a link's
// digest is that of its target text, mode 0777), sorted, with prefix/ before
// each path. Directories, devices and sockets are not listed.
func HashTree(root, prefix string) ([]File, error) {
	var out []File
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		name := path.Join(prefix, filepath.ToSlash(rel))
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out = append(out, File{Path: name, Size: int64(len(target)), Mode: 0o777, SHA256: sha256.Sum256([]byte(target))})
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			sum, size, err := HashFile(p, 0, -1)
			if err != nil {
				return err
			}
			out = append(out, File{Path: name, Size: size, Mode: info.Mode().Perm(), SHA256: sum})
		}
		return nil
	})
	return out, err
}

// HashFile digests size bytes of the file at offset (size < 0: to the end).
// It fails if the file holds fewer than size bytes there.
func HashFile(name string, offset, size int64) ([32]byte, int64, error) {
	var sum [32]byte
	f, err := os.Open(name)
	if err != nil {
		return sum, 0, err
	}
	defer f.Close()
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return sum, 0, err
	}
	var r io.Reader = f
	if size >= 0 {
		r = io.LimitReader(f, size)
	}
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return sum, n, err
	}
	if size >= 0 && n != size {
		return sum, n, fmt.Errorf("%s: %d bytes at offset %d, want %d", name, n, offset, size)
	}
	copy(sum[:], h.Sum(nil))
	return sum, n, nil
}

// Signature files hold the 64-byte ed25519 signature in base64 and a
// newline; key files the 32-byte seed (private) or the 32-byte public key,
// same encoding. Comment lines starting with # are ignored.

// Sign returns the signature file text for data.
func Sign(priv ed25519.PrivateKey, data []byte) []byte {
	return []byte(base64.StdEncoding.EncodeToString(ed25519.Sign(priv, data)) + "\n")
}

// VerifySignature checks sigText (a signature file) over data.
func VerifySignature(pub ed25519.PublicKey, data, sigText []byte) error {
	sig, err := decodeB64(sigText, ed25519.SignatureSize)
	if err != nil {
		return fmt.Errorf("signature: %w", err)
	}
	if !ed25519.Verify(pub, data, sig) {
		return errors.New("signature: does not match the manifest and this public key")
	}
	return nil
}

// ParsePrivateKey reads a private key file (base64 seed).
func ParsePrivateKey(text []byte) (ed25519.PrivateKey, error) {
	seed, err := decodeB64(text, ed25519.SeedSize)
	if err != nil {
		return nil, fmt.Errorf("private key: %w", err)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// ParsePublicKey reads a public key file (base64).
func ParsePublicKey(text []byte) (ed25519.PublicKey, error) {
	k, err := decodeB64(text, ed25519.PublicKeySize)
	if err != nil {
		return nil, fmt.Errorf("public key: %w", err)
	}
	return ed25519.PublicKey(k), nil
}

// EncodeKey is the file text for a seed or a public key.
func EncodeKey(comment string, key []byte) []byte {
	var b bytes.Buffer
	for _, l := range strings.Split(strings.TrimSpace(comment), "\n") {
		if l != "" {
			b.WriteString("# " + l + "\n")
		}
	}
	b.WriteString(base64.StdEncoding.EncodeToString(key) + "\n")
	return b.Bytes()
}

func decodeB64(text []byte, want int) ([]byte, error) {
	var body []string
	for _, l := range strings.Split(string(text), "\n") {
		l = strings.TrimSpace(l)
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		body = append(body, l)
	}
	if len(body) != 1 {
		return nil, fmt.Errorf("want one base64 line, found %d", len(body))
	}
	b, err := base64.StdEncoding.DecodeString(body[0])
	if err != nil {
		return nil, err
	}
	if len(b) != want {
		return nil, fmt.Errorf("%d bytes, want %d", len(b), want)
	}
	return b, nil
}

// Problem is one mismatch found by Check.
type Problem struct{ What, Msg string }

func (p Problem) String() string { return p.What + ": " + p.Msg }

// CheckImage compares an image file with the manifest's image and partition
// records. name selects the image record (the file's base name by default).
func (m *Manifest) CheckImage(file, name string) []Problem {
	if name == "" {
		name = filepath.Base(file)
	}
	var probs []Problem
	found := false
	for _, r := range m.Images {
		if r.Name != name {
			continue
		}
		found = true
		info, err := os.Stat(file)
		if err != nil {
			return []Problem{{file, err.Error()}}
		}
		if info.Size() != r.Size {
			probs = append(probs, Problem{"image " + name, fmt.Sprintf("size %d, manifest says %d", info.Size(), r.Size)})
		}
		if sum, _, err := HashFile(file, 0, -1); err != nil {
			probs = append(probs, Problem{"image " + name, err.Error()})
		} else if sum != r.SHA256 {
			probs = append(probs, Problem{"image " + name, "SHA-256 differs from the manifest"})
		}
	}
	if !found {
		return []Problem{{"image " + name, "not listed in the manifest"}}
	}
	// The partitions say where the damage is.
	for _, r := range m.Partitions {
		if !strings.HasPrefix(r.Name, name+":") {
			continue
		}
		sum, _, err := HashFile(file, r.Offset, r.Size)
		switch {
		case err != nil:
			probs = append(probs, Problem{"partition " + r.Name, err.Error()})
		case sum != r.SHA256:
			probs = append(probs, Problem{"partition " + r.Name, "SHA-256 differs from the manifest"})
		}
	}
	return probs
}

// CheckTree compares a directory with the manifest's file records whose
// path starts with prefix/: every listed file must be there with the same
// size, mode and digest, and no unlisted file may be there.
func (m *Manifest) CheckTree(root, prefix string) []Problem {
	got, err := HashTree(root, prefix)
	if err != nil {
		return []Problem{{root, err.Error()}}
	}
	want := map[string]File{}
	for _, f := range m.Files {
		if strings.HasPrefix(f.Path, prefix+"/") {
			want[f.Path] = f
		}
	}
	var probs []Problem
	for _, g := range got {
		w, ok := want[g.Path]
		if !ok {
			probs = append(probs, Problem{g.Path, "not in the manifest"})
			continue
		}
		delete(want, g.Path)
		switch {
		case g.Size != w.Size:
			probs = append(probs, Problem{g.Path, fmt.Sprintf("size %d, manifest says %d", g.Size, w.Size)})
		case g.SHA256 != w.SHA256:
			probs = append(probs, Problem{g.Path, "SHA-256 differs from the manifest"})
		case g.Mode != w.Mode:
			probs = append(probs, Problem{g.Path, fmt.Sprintf("mode %04o, manifest says %04o", g.Mode, w.Mode)})
		}
	}
	missing := make([]string, 0, len(want))
	for p := range want {
		missing = append(missing, p)
	}
	sort.Strings(missing)
	for _, p := range missing {
		probs = append(probs, Problem{p, "missing"})
	}
	return probs
}
