// Package bundle is the appliance's update file: a POSIX tar (`tar tvf`
// lists it) of exactly three members, in this order:
//
//	manifest       the image manifest format (firmware/manifest) with
//	               "version bundle 1", the arch, otwatch's version and the
//	               build's source-date-epoch, one "image root.sqfs" record
//	               (size and SHA-256 of the payload) and every file of the
//	               root file system
//	manifest.sig   the ed25519 signature of the manifest bytes (base64)
//	root.sqfs      the root file system, written as is into the inactive slot
//
// The signature covers the manifest, the manifest names the payload's
// digest: whoever checks both holds the bytes the release manager signed.
// Open only parses (cheap, bounded); Verify checks the signature and the
// manifest's fields; the payload's digest is checked by the one who reads
// it (PayloadSum), which on the appliance is PID 1, from its own copy.
package bundle

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"time"

	"github.com/otwatch/otwatch/firmware/manifest"
)

// Member names, in their order in the tar.
const (
	ManifestName  = "manifest"
	SignatureName = "manifest.sig"
	PayloadName   = "root.sqfs"
)

// Limits on what Open reads into memory.
const (
	MaxManifest  = 8 << 20
	MaxSignature = 4 << 10
	// MaxPayload bounds the root file system (the slots are smaller still).
	MaxPayload = 1 << 30
)

// FormatVersion is the "version bundle N" a bundle carries.
const FormatVersion = "1"

// Bundle is a parsed, not yet verified, bundle file.
type Bundle struct {
	ManifestText  []byte
	Signature     []byte
	PayloadOffset int64 // in the file
	PayloadSize   int64
	r             io.ReaderAt
}

// Info is what a verified manifest says.
type Info struct {
	Version string // otwatch's version
	Arch    string // arm64, armv7
	Epoch   int64  // the build's SOURCE_DATE_EPOCH
	Size    int64  // of the payload
	SHA256  [32]byte
	Kernel  string // the kernel the build was made with (informational)
}

// countReader counts the bytes read through it: archive/tar reads headers
// block by block and a member's data only when asked, so after Next the
// count is the offset of the member's data.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// Open parses a bundle of size bytes: three regular members with the
// expected names, in order, within the limits. Nothing is verified yet.
func Open(r io.ReaderAt, size int64) (*Bundle, error) {
	cr := &countReader{r: io.NewSectionReader(r, 0, size)}
	tr := tar.NewReader(cr)
	b := &Bundle{r: r}
	for i, want := range []string{ManifestName, SignatureName, PayloadName} {
		h, err := tr.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, fmt.Errorf("bundle: %s missing (a bundle holds %s, %s and %s)", want, ManifestName, SignatureName, PayloadName)
			}
			return nil, fmt.Errorf("bundle: not a bundle (tar member %d: %v)", i+1, err)
		}
		if h.Name != want || h.Typeflag != tar.TypeReg {
			return nil, fmt.Errorf("bundle: member %d is %q (type %c), want the regular file %s", i+1, h.Name, h.Typeflag, want)
		}
		switch want {
		case ManifestName, SignatureName:
			limit := int64(MaxManifest)
			if want == SignatureName {
				limit = MaxSignature
			}
			if h.Size > limit {
				return nil, fmt.Errorf("bundle: %s is %d bytes (at most %d)", want, h.Size, limit)
			}
			data := make([]byte, h.Size)
			if _, err := io.ReadFull(tr, data); err != nil {
				return nil, fmt.Errorf("bundle: reading %s: %v", want, err)
			}
			if want == ManifestName {
				b.ManifestText = data
			} else {
				b.Signature = data
			}
		case PayloadName:
			if h.Size > MaxPayload || h.Size <= 0 {
				return nil, fmt.Errorf("bundle: %s is %d bytes (1 to %d)", want, h.Size, int64(MaxPayload))
			}
			b.PayloadOffset, b.PayloadSize = cr.n, h.Size
			if b.PayloadOffset+b.PayloadSize > size {
				return nil, fmt.Errorf("bundle: truncated: %s needs %d bytes, the file ends %d bytes after its start",
					want, h.Size, size-b.PayloadOffset)
			}
		}
	}
	// nothing but the tar's end may follow (two zero blocks, padding)
	if _, err := io.CopyN(io.Discard, tr, b.PayloadSize); err != nil {
		return nil, fmt.Errorf("bundle: reading %s: %v", PayloadName, err)
	}
	if h, err := tr.Next(); err == nil {
		return nil, fmt.Errorf("bundle: unexpected member %q after %s", h.Name, PayloadName)
	} else if !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("bundle: after %s: %v", PayloadName, err)
	}
	return b, nil
}

// OpenFile opens a bundle file; close the returned file when done.
func OpenFile(path string) (*Bundle, *os.File, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	b, err := Open(f, st.Size())
	if err != nil {
		f.Close()
		return nil, nil, fmt.Errorf("%s: %w", path, err)
	}
	return b, f, nil
}

// Payload reads the root file system from the bundle file.
func (b *Bundle) Payload() *io.SectionReader {
	return io.NewSectionReader(b.r, b.PayloadOffset, b.PayloadSize)
}

// Verify checks the manifest's signature with pub, then that the manifest
// describes a bundle: format, arch, version, epoch, and one root.sqfs
// record whose size is the payload's.
func (b *Bundle) Verify(pub ed25519.PublicKey) (*Info, error) {
	if err := manifest.VerifySignature(pub, b.ManifestText, b.Signature); err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	return b.Describe()
}

// Describe reads the manifest's fields WITHOUT checking the signature
// (for showing what a file claims to be; never for deciding to install).
func (b *Bundle) Describe() (*Info, error) {
	m, err := manifest.Parse(b.ManifestText)
	if err != nil {
		return nil, fmt.Errorf("bundle: %w", err)
	}
	v := map[string]string{}
	for _, x := range m.Versions {
		v[x.Name] = x.Value
	}
	if v["bundle"] != FormatVersion {
		return nil, fmt.Errorf("bundle: the manifest is not a bundle manifest (version bundle %q, want %s): an image manifest cannot install a slot", v["bundle"], FormatVersion)
	}
	info := &Info{Version: v["otwatch"], Arch: v["arch"], Kernel: v["kernel"]}
	if info.Version == "" || info.Arch == "" {
		return nil, errors.New("bundle: the manifest names no otwatch version or arch")
	}
	if info.Epoch, err = strconv.ParseInt(v["source-date-epoch"], 10, 64); err != nil {
		return nil, errors.New("bundle: the manifest has no valid source-date-epoch")
	}
	if len(m.Images) != 1 || m.Images[0].Name != PayloadName {
		return nil, fmt.Errorf("bundle: the manifest must list exactly one image, %s", PayloadName)
	}
	info.Size, info.SHA256 = m.Images[0].Size, m.Images[0].SHA256
	if info.Size != b.PayloadSize {
		return nil, fmt.Errorf("bundle: %s is %d bytes, the manifest says %d", PayloadName, b.PayloadSize, info.Size)
	}
	return info, nil
}

// PayloadSum copies the payload to w (nil: nowhere) and checks its SHA-256
// against info: the check that makes the bytes the signed ones.
func PayloadSum(r io.Reader, w io.Writer, info *Info) error {
	h := sha256.New()
	dst := io.Writer(h)
	if w != nil {
		dst = io.MultiWriter(h, w)
	}
	n, err := io.Copy(dst, io.LimitReader(r, info.Size+1))
	if err != nil {
		return fmt.Errorf("bundle: reading %s: %w", PayloadName, err)
	}
	if n != info.Size {
		return fmt.Errorf("bundle: %s is %d bytes, the manifest says %d", PayloadName, n, info.Size)
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	if sum != info.SHA256 {
		return fmt.Errorf("bundle: %s: SHA-256 %x differs from the signed manifest's %x (damaged or tampered)", PayloadName, sum[:6], info.SHA256[:6])
	}
	return nil
}

// Create writes a bundle: the manifest (versions given, plus "bundle 1",
// the payload's image record and the files of the trees), signed with
// priv, then the payload file. epoch is every member's time.
func Create(w io.Writer, payloadPath string, versions []manifest.Version, trees map[string]string, priv ed25519.PrivateKey, epoch int64) error {
	sum, size, err := manifest.HashFile(payloadPath, 0, -1)
	if err != nil {
		return err
	}
	m := &manifest.Manifest{Versions: append(append([]manifest.Version(nil), versions...), manifest.Version{Name: "bundle", Value: FormatVersion}),
		Images: []manifest.Region{{Name: PayloadName, Size: size, SHA256: sum}}}
	for prefix, dir := range trees {
		files, err := manifest.HashTree(dir, prefix)
		if err != nil {
			return err
		}
		m.Files = append(m.Files, files...)
	}
	text, err := m.Marshal()
	if err != nil {
		return err
	}
	sig := manifest.Sign(priv, text)
	tw := tar.NewWriter(w)
	mtime := time.Unix(epoch, 0).UTC()
	add := func(name string, size int64, data io.Reader) error {
		if err := tw.WriteHeader(&tar.Header{Name: name, Mode: 0o644, Size: size, ModTime: mtime, Typeflag: tar.TypeReg,
			Uname: "root", Gname: "root", Format: tar.FormatUSTAR}); err != nil {
			return err
		}
		_, err := io.Copy(tw, data)
		return err
	}
	if err := add(ManifestName, int64(len(text)), bytes.NewReader(text)); err != nil {
		return err
	}
	if err := add(SignatureName, int64(len(sig)), bytes.NewReader(sig)); err != nil {
		return err
	}
	f, err := os.Open(payloadPath)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := add(PayloadName, size, f); err != nil {
		return err
	}
	return tw.Close()
}
