package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/otwatch/otwatch/firmware/manifest"
)

// fakeImage builds a small tree and an "image" (the tree's files back to
// back, with a partition record for each half), writes the manifest, signs
// it with the committed test key and returns the paths.
func fakeImage(t *testing.T) (dir, image, tree string) {
	t.Helper()
	dir = t.TempDir()
	tree = filepath.Join(dir, "rootfs")
	files := map[string]string{
		"usr/bin/otwatch":          strings.Repeat("\x7fELF binary ", 300),
		"sbin/init":                "init",
		"etc/otwatch/otwatch.conf": "interfaces:\n  - eth1\n",
	}
	for name, body := range files {
		p := filepath.Join(tree, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Symlink("/run/resolv.conf", filepath.Join(tree, "etc/resolv.conf")); err != nil {
		t.Fatal(err)
	}
	image = filepath.Join(dir, "otwatch-test.img")
	img := bytes.Repeat([]byte{0}, 8192)
	copy(img[512:], files["usr/bin/otwatch"])
	copy(img[4096+512:], files["etc/otwatch/otwatch.conf"])
	if err := os.WriteFile(image, img, 0o644); err != nil {
		t.Fatal(err)
	}
	m := &manifest.Manifest{Versions: []manifest.Version{{Name: "otwatch", Value: "v0.0.0-test"}, {Name: "kernel", Value: "6.1.0-50-arm64"}}}
	files2, err := manifest.HashTree(tree, "rootfs")
	if err != nil {
		t.Fatal(err)
	}
	m.Files = files2
	sum, _, _ := manifest.HashFile(image, 0, -1)
	m.Images = []manifest.Region{{Name: "otwatch-test.img", Size: int64(len(img)), SHA256: sum}}
	for i, name := range []string{"boot", "root"} {
		s, _, _ := manifest.HashFile(image, int64(i)*4096, 4096)
		m.Partitions = append(m.Partitions, manifest.Region{Name: "otwatch-test.img:" + name, Offset: int64(i) * 4096, Size: 4096, SHA256: s})
	}
	text, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	keyText, err := os.ReadFile("../keys/test-signing.key")
	if err != nil {
		t.Fatal(err)
	}
	priv, err := manifest.ParsePrivateKey(keyText)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(image+".manifest", text, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(image+".manifest.sig", manifest.Sign(priv, text), 0o644); err != nil {
		t.Fatal(err)
	}
	return dir, image, tree
}

func verify(args ...string) (int, string) {
	var out, errb bytes.Buffer
	code := run(append([]string{"-pubkey", "../keys/test-signing.pub"}, args...), &out, &errb)
	return code, out.String() + errb.String()
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x01
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyImage(t *testing.T) {
	_, image, _ := fakeImage(t)
	if code, out := verify(image); code != 0 || !strings.Contains(out, "OK ") || !strings.Contains(out, "TEST key") {
		t.Fatalf("intact image: code %d\n%s", code, out)
	}
	flip(t, image, 4096+600) // one bit in the "root" partition
	code, out := verify(image)
	if code != 1 || !strings.Contains(out, "REJECTED") || !strings.Contains(out, "partition otwatch-test.img:root") ||
		strings.Contains(out, "otwatch-test.img:boot") {
		t.Fatalf("flipped byte: code %d\n%s", code, out)
	}
}

func TestVerifyTree(t *testing.T) {
	_, image, tree := fakeImage(t)
	args := []string{"-manifest", image + ".manifest", "-tree", tree, "-prefix", "rootfs"}
	if code, out := verify(args...); code != 0 {
		t.Fatalf("intact tree: code %d\n%s", code, out)
	}
	flip(t, filepath.Join(tree, "usr/bin/otwatch"), 100)
	if code, out := verify(args...); code != 1 || !strings.Contains(out, "rootfs/usr/bin/otwatch: SHA-256 differs") {
		t.Fatalf("flipped byte in a file: code %d\n%s", code, out)
	}
	flip(t, filepath.Join(tree, "usr/bin/otwatch"), 100)
	if err := os.WriteFile(filepath.Join(tree, "etc/extra"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if code, out := verify(args...); code != 1 || !strings.Contains(out, "rootfs/etc/extra: not in the manifest") {
		t.Fatalf("extra file: code %d\n%s", code, out)
	}
}

func TestVerifyManifestTampered(t *testing.T) {
	_, image, _ := fakeImage(t)
	// a flipped byte in the manifest itself, or a changed signature
	flip(t, image+".manifest", 40)
	if code, out := verify(image); code != 1 || !strings.Contains(out, "signature") {
		t.Fatalf("tampered manifest: code %d\n%s", code, out)
	}
	_, image, _ = fakeImage(t)
	flip(t, image+".manifest.sig", 3)
	if code, out := verify(image); code != 1 || !strings.Contains(out, "REJECTED") {
		t.Fatalf("tampered signature: code %d\n%s", code, out)
	}
	// another key does not verify a test-signed image
	other := filepath.Join(t.TempDir(), "other.pub")
	os.WriteFile(other, manifest.EncodeKey("other", bytes.Repeat([]byte{7}, 32)), 0o644)
	var o, e bytes.Buffer
	_, image, _ = fakeImage(t)
	if code := run([]string{"-pubkey", other, image}, &o, &e); code != 1 {
		t.Fatalf("wrong key accepted: %d %s", code, e.String())
	}
}

func TestVerifyUsage(t *testing.T) {
	if code, _ := verify(); code != 2 {
		t.Fatalf("no image: %d", code)
	}
	if code, _ := verify("/nonexistent.img"); code != 2 {
		t.Fatalf("missing manifest: %d", code)
	}
}

func TestManifestCanonical(t *testing.T) {
	_, image, _ := fakeImage(t)
	data, _ := os.ReadFile(image + ".manifest")
	m, err := manifest.Parse(data)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := m.Marshal()
	if !bytes.Equal(again, data) {
		t.Fatal("marshal(parse(x)) != x")
	}
	// double space: same meaning, different bytes: refused
	if _, err := manifest.Parse(bytes.Replace(data, []byte("version kernel"), []byte("version  kernel"), 1)); err == nil {
		t.Fatal("non-canonical manifest accepted")
	}
	if _, err := (&manifest.Manifest{Files: []manifest.File{{Path: "a b"}}}).Marshal(); err == nil {
		t.Fatal("path with a space accepted")
	}
}
