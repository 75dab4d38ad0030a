package manifest

import (
	"crypto/ed25519"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestKeysAndSignature(t *testing.T) {
	seed := make([]byte, ed25519.SeedSize)
	seed[0] = 1
	priv, err := ParsePrivateKey(EncodeKey("a test key\nsecond comment line", seed))
	if err != nil {
		t.Fatal(err)
	}
	pub, err := ParsePublicKey(EncodeKey("", priv.Public().(ed25519.PublicKey)))
	if err != nil {
		t.Fatal(err)
	}
	data := []byte(Header + "\n")
	sig := Sign(priv, data)
	if err := VerifySignature(pub, data, sig); err != nil {
		t.Fatal(err)
	}
	if err := VerifySignature(pub, append(data, 'x'), sig); err == nil {
		t.Fatal("signature over other bytes accepted")
	}
	for _, bad := range []string{"", "# only a comment\n", "AAAA\n", "a\nb\n", "!!!\n"} {
		if _, err := ParsePublicKey([]byte(bad)); err == nil {
			t.Errorf("public key %q accepted", bad)
		}
		if err := VerifySignature(pub, data, []byte(bad)); err == nil {
			t.Errorf("signature %q accepted", bad)
		}
	}
}

func TestParseRejects(t *testing.T) {
	for _, text := range []string{
		"",
		"otwatch-image-manifest 2\n",
		Header + "\nversion a\n",
		Header + "\nimage x size -1 sha256 " + strings.Repeat("0", 64) + "\n",
		Header + "\nfile a size 1 mode 0644 sha256 " + strings.Repeat("A", 64) + "\n",
		Header + "\nfile a size 1 mode 99999 sha256 " + strings.Repeat("0", 64) + "\n",
		Header + "\nversion b 1\nversion a 1\n", // not sorted
		Header + "\nbogus\n",
		Header, // no final newline
	} {
		if _, err := Parse([]byte(text)); err == nil {
			t.Errorf("accepted %q", text)
		}
	}
}

func TestHashFileRange(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("0123456789"), 0o644)
	a, n, err := HashFile(p, 2, 3)
	if err != nil || n != 3 {
		t.Fatal(n, err)
	}
	q := filepath.Join(t.TempDir(), "g")
	os.WriteFile(q, []byte("234"), 0o644)
	b, _, _ := HashFile(q, 0, -1)
	if a != b {
		t.Fatal("range digest differs from the digest of the same bytes")
	}
	if _, _, err := HashFile(p, 8, 5); err == nil {
		t.Fatal("short range accepted")
	}
}
