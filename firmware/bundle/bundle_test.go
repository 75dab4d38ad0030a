package bundle

import (
	"archive/tar"
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/firmware/manifest"
)

func testKey(t *testing.T) (ed25519.PrivateKey, ed25519.PublicKey) {
	t.Helper()
	b, err := os.ReadFile("../keys/test-signing.key")
	if err != nil {
		t.Fatal(err)
	}
	priv, err := manifest.ParsePrivateKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return priv, priv.Public().(ed25519.PublicKey)
}

var versions = []manifest.Version{{Name: "otwatch", Value: "v9.9.9"}, {Name: "arch", Value: "arm64"},
	{Name: "source-date-epoch", Value: "1795739136"}, {Name: "kernel", Value: "6.1.0-50-arm64"}}

// build makes a bundle of a payload and a small root tree; it returns the bytes.
func build(t *testing.T, payload []byte, priv ed25519.PrivateKey, vs []manifest.Version) []byte {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "root.sqfs")
	os.WriteFile(p, payload, 0o644)
	tree := filepath.Join(dir, "tree")
	os.MkdirAll(filepath.Join(tree, "usr/bin"), 0o755)
	os.WriteFile(filepath.Join(tree, "usr/bin/otwatch"), []byte("binary"), 0o755)
	var out bytes.Buffer
	if err := Create(&out, p, vs, map[string]string{"rootfs": tree}, priv, 1795739136); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func TestCreateOpenVerify(t *testing.T) {
	priv, pub := testKey(t)
	payload := bytes.Repeat([]byte("hsqs-root-"), 10000)
	raw := build(t, payload, priv, versions)
	b, err := Open(bytes.NewReader(raw), int64(len(raw)))
	if err != nil {
		t.Fatal(err)
	}
	info, err := b.Verify(pub)
	if err != nil {
		t.Fatal(err)
	}
	if info.Version != "v9.9.9" || info.Arch != "arm64" || info.Epoch != 1795739136 || info.Size != int64(len(payload)) {
		t.Fatalf("info %+v", info)
	}
	if !strings.Contains(string(b.ManifestText), "file rootfs/usr/bin/otwatch size 6 mode 0755") {
		t.Errorf("manifest lacks the root's files:\n%s", b.ManifestText)
	}
	var got bytes.Buffer
	if err := PayloadSum(b.Payload(), &got, info); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), payload) {
		t.Fatal("payload read back differs")
	}
	// the tar is an ordinary one
	tr := tar.NewReader(bytes.NewReader(raw))
	var names []string
	for h, err := tr.Next(); err == nil; h, err = tr.Next() {
		names = append(names, h.Name)
	}
	if strings.Join(names, ",") != "manifest,manifest.sig,root.sqfs" {
		t.Errorf("members %v", names)
	}
}

func TestRefusals(t *testing.T) {
	priv, pub := testKey(t)
	payload := bytes.Repeat([]byte{0x68, 0x73, 0x71, 0x73}, 5000)
	raw := build(t, payload, priv, versions)
	b, _ := Open(bytes.NewReader(raw), int64(len(raw)))
	info, _ := b.Verify(pub)

	// one flipped payload byte: the signature still holds, the digest does not
	bad := append([]byte(nil), raw...)
	bad[b.PayloadOffset+1234] ^= 0x20
	tb, err := Open(bytes.NewReader(bad), int64(len(bad)))
	if err != nil {
		t.Fatal(err)
	}
	ti, err := tb.Verify(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := PayloadSum(tb.Payload(), nil, ti); err == nil || !strings.Contains(err.Error(), "tampered") {
		t.Errorf("flipped payload byte: %v", err)
	}
	// a flipped manifest byte: the signature fails
	bad = append([]byte(nil), raw...)
	i := bytes.Index(bad, []byte("v9.9.9"))
	bad[i+1] = '8'
	tb, _ = Open(bytes.NewReader(bad), int64(len(bad)))
	if _, err := tb.Verify(pub); err == nil || !strings.Contains(err.Error(), "signature") {
		t.Errorf("changed manifest: %v", err)
	}
	// another key
	other := ed25519.NewKeyFromSeed(bytes.Repeat([]byte{7}, 32))
	if _, err := b.Verify(other.Public().(ed25519.PublicKey)); err == nil {
		t.Error("verified with another key")
	}
	// a manifest without "version bundle 1" (an image manifest) never installs
	noKind := build(t, payload, priv, versions)
	nb, _ := Open(bytes.NewReader(noKind), int64(len(noKind)))
	m, _ := manifest.Parse(nb.ManifestText)
	var vs []manifest.Version
	for _, v := range m.Versions {
		if v.Name != "bundle" {
			vs = append(vs, v)
		}
	}
	m.Versions = vs
	nb.ManifestText, _ = m.Marshal()
	nb.Signature = manifest.Sign(priv, nb.ManifestText)
	if _, err := nb.Verify(pub); err == nil || !strings.Contains(err.Error(), "not a bundle manifest") {
		t.Errorf("image manifest: %v", err)
	}
	// truncated file, garbage, short payload
	for name, data := range map[string][]byte{
		"truncated": raw[:b.PayloadOffset+100],
		"garbage":   bytes.Repeat([]byte("x"), 4096),
		"empty":     nil,
	} {
		if _, err := Open(bytes.NewReader(data), int64(len(data))); err == nil {
			t.Errorf("%s: opened", name)
		}
	}
	if err := PayloadSum(bytes.NewReader(payload[:100]), nil, info); err == nil {
		t.Error("short payload accepted")
	}
	// members out of order or an extra member
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, n := range []string{SignatureName, ManifestName, PayloadName} {
		tw.WriteHeader(&tar.Header{Name: n, Size: 1, Mode: 0o644, Typeflag: tar.TypeReg})
		tw.Write([]byte("x"))
	}
	tw.Close()
	if _, err := Open(bytes.NewReader(buf.Bytes()), int64(buf.Len())); err == nil || !strings.Contains(err.Error(), "want the regular file manifest") {
		t.Errorf("out of order: %v", err)
	}
	buf.Reset()
	tw = tar.NewWriter(&buf)
	for _, n := range []string{ManifestName, SignatureName, PayloadName, "extra"} {
		tw.WriteHeader(&tar.Header{Name: n, Size: 1, Mode: 0o644, Typeflag: tar.TypeReg})
		tw.Write([]byte("x"))
	}
	tw.Close()
	if _, err := Open(bytes.NewReader(buf.Bytes()), int64(buf.Len())); err == nil || !strings.Contains(err.Error(), "extra") {
		t.Errorf("extra member: %v", err)
	}
}
