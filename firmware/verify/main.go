// Command verify checks a firmware image (or an unpacked tree) against its
// signed manifest before it is flashed:
//
//	verify -pubkey release.pub dist/otwatch-arm64.img
//	verify -pubkey release.pub -manifest M -sig S -tree DIR -prefix rootfs
//	verify -pubkey release.pub -bundle dist/otwatch-arm64.otwb
//
// The manifest defaults to IMAGE.manifest and its signature to
// IMAGE.manifest.sig. Exit status: 0 the image is exactly what was signed,
// 1 rejected (bad signature, a differing byte, a missing or extra file),
// 2 usage or I/O error. Nothing is written.
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/otwatch/otwatch/firmware/bundle"
	"github.com/otwatch/otwatch/firmware/manifest"
)

// testPublicKey is firmware/keys/test-signing.pub: images it verifies are
// CI/local test builds, never releases, and verify says so.
const testPublicKey = "cOIlegVM8B2yOhq3zysbcfgHz54NEe4qo3C4E5Bp7oE="

func main() { os.Exit(run(os.Args[1:], os.Stdout, os.Stderr)) }

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("verify", flag.ContinueOnError)
	fs.SetOutput(stderr)
	pubPath := fs.String("pubkey", "", "ed25519 public key file (base64), required")
	manPath := fs.String("manifest", "", "manifest (default IMAGE.manifest)")
	sigPath := fs.String("sig", "", "signature (default MANIFEST.sig)")
	tree := fs.String("tree", "", "check an unpacked directory instead of an image")
	prefix := fs.String("prefix", "", "with -tree: the manifest path prefix the directory stands for (e.g. rootfs)")
	name := fs.String("name", "", "image record name (default the image's base name)")
	quiet := fs.Bool("q", false, "print problems only")
	bundlePath := fs.String("bundle", "", "check an update bundle (firmware/bundle) instead of an image")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *bundlePath != "" {
		return verifyBundle(*pubPath, *bundlePath, *quiet, stdout, stderr)
	}
	var image string
	switch {
	case *tree == "" && fs.NArg() == 1:
		image = fs.Arg(0)
	case *tree != "" && fs.NArg() == 0 && *prefix != "" && *manPath != "":
	default:
		fmt.Fprintln(stderr, "usage: verify -pubkey KEY [-manifest M] [-sig S] IMAGE\n       verify -pubkey KEY -manifest M [-sig S] -tree DIR -prefix NAME\n       verify -pubkey KEY -bundle BUNDLE")
		return 2
	}
	if *pubPath == "" {
		fmt.Fprintln(stderr, "verify: -pubkey is required (the release public key; firmware/keys/test-signing.pub for test builds)")
		return 2
	}
	if *manPath == "" {
		*manPath = image + ".manifest"
	}
	if *sigPath == "" {
		*sigPath = *manPath + ".sig"
	}
	pubText, err := os.ReadFile(*pubPath)
	if err != nil {
		fmt.Fprintf(stderr, "verify: %v\n", err)
		return 2
	}
	pub, err := manifest.ParsePublicKey(pubText)
	if err != nil {
		fmt.Fprintf(stderr, "verify: %s: %v\n", *pubPath, err)
		return 2
	}
	data, err := os.ReadFile(*manPath)
	if err != nil {
		fmt.Fprintf(stderr, "verify: %v\n", err)
		return 2
	}
	sig, err := os.ReadFile(*sigPath)
	if err != nil {
		fmt.Fprintf(stderr, "verify: %v\n", err)
		return 2
	}
	// The signature first: nothing of an unsigned manifest is believed.
	if err := manifest.VerifySignature(pub, data, sig); err != nil {
		fmt.Fprintf(stderr, "REJECTED %s: %v\n", *manPath, err)
		return 1
	}
	m, err := manifest.Parse(data)
	if err != nil {
		fmt.Fprintf(stderr, "REJECTED %s: %v\n", *manPath, err)
		return 1
	}
	var probs []manifest.Problem
	what := image
	if *tree != "" {
		what = *tree
		probs = m.CheckTree(*tree, *prefix)
	} else {
		probs = m.CheckImage(image, *name)
	}
	if len(probs) > 0 {
		for _, p := range probs {
			fmt.Fprintf(stderr, "  %s\n", p)
		}
		fmt.Fprintf(stderr, "REJECTED %s: %d problem(s); do not flash it\n", what, len(probs))
		return 1
	}
	if !*quiet {
		var vs []string
		for _, v := range m.Versions {
			vs = append(vs, v.Name+"="+v.Value)
		}
		fmt.Fprintf(stdout, "OK %s: matches %s (%s)\n", what, *manPath, strings.Join(vs, " "))
	}
	if bytes.Equal(pub, mustKey(testPublicKey)) {
		fmt.Fprintln(stderr, "WARNING: signed with the public TEST key: a CI/local build, not a release")
	}
	return 0
}

// verifyBundle checks an update bundle as the appliance will: the
// signature, the manifest's fields, the payload's digest.
func verifyBundle(pubPath, path string, quiet bool, stdout, stderr io.Writer) int {
	if pubPath == "" {
		fmt.Fprintln(stderr, "verify: -pubkey is required")
		return 2
	}
	pubText, err := os.ReadFile(pubPath)
	if err != nil {
		fmt.Fprintf(stderr, "verify: %v\n", err)
		return 2
	}
	pub, err := manifest.ParsePublicKey(pubText)
	if err != nil {
		fmt.Fprintf(stderr, "verify: %s: %v\n", pubPath, err)
		return 2
	}
	b, f, err := bundle.OpenFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "REJECTED %v\n", err)
		return 1
	}
	defer f.Close()
	info, err := b.Verify(pub)
	if err == nil {
		err = bundle.PayloadSum(b.Payload(), nil, info)
	}
	if err != nil {
		fmt.Fprintf(stderr, "REJECTED %s: %v\n", path, err)
		return 1
	}
	if !quiet {
		fmt.Fprintf(stdout, "OK %s: update bundle otwatch %s for %s, root %d bytes, built %s\n", path, info.Version, info.Arch, info.Size,
			time.Unix(info.Epoch, 0).UTC().Format(time.RFC3339))
	}
	if bytes.Equal(pub, mustKey(testPublicKey)) {
		fmt.Fprintln(stderr, "WARNING: signed with the public TEST key: a CI/local build, not a release")
	}
	return 0
}

func mustKey(s string) []byte {
	k, err := manifest.ParsePublicKey([]byte(s))
	if err != nil {
		panic(err)
	}
	return k
}
