package main

// otwatch update FILE: upload a signed bundle to an appliance's dashboard
// API (POST /api/system/update) with an API token of an admin, and
// optionally wait until the appliance runs it.

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/otwatch/otwatch/firmware/bundle"
	"github.com/otwatch/otwatch/firmware/manifest"
	"github.com/otwatch/otwatch/ui"
)

func cmdUpdate(args []string, stdout, stderr io.Writer) int {
	const name = "update"
	fs := newFlags(name)
	url := fs.String("url", os.Getenv("OTWATCH_URL"), "the appliance's dashboard `URL` (default $OTWATCH_URL, else https://127.0.0.1:8443)")
	tokenFile := fs.String("token-file", "", "`FILE` holding an admin's API token (default $OTWATCH_TOKEN)")
	fingerprint := fs.String("fingerprint", "", "the SHA-256 (`HEX`) of the appliance's certificate (its self-signed one)")
	caFile := fs.String("ca", "", "or a CA `FILE` (PEM) that signed it")
	insecure := fs.Bool("insecure", false, "do not check the appliance's certificate")
	pubFile := fs.String("pubkey", "", "check the bundle's signature and digest here first with this public key `FILE`")
	downgrade := fs.Bool("allow-downgrade", false, "install a bundle built before the running version")
	wait := fs.Duration("wait", 0, "wait until the appliance runs the new version (e.g. 10m)")
	status := fs.Bool("status", false, "show the appliance's slots and the update in progress instead")
	pos, err := parseFlags(fs, name, args, stdout, stderr, false)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return 0
	case err != nil:
		return 2
	case *status && len(pos) != 0:
		usageError(stderr, name, fs, "--status takes no bundle", false)
		return 2
	case !*status && len(pos) != 1:
		usageError(stderr, name, fs, "give one bundle (.otwb)", false)
		return 2
	}
	if *url == "" {
		*url = "https://127.0.0.1:8443"
	}
	*url = strings.TrimRight(*url, "/")
	token := os.Getenv("OTWATCH_TOKEN")
	if *tokenFile != "" {
		b, err := os.ReadFile(*tokenFile)
		if err != nil {
			fmt.Fprintf(stderr, "otwatch update: %v\n", err)
			return 2
		}
		token = strings.TrimSpace(string(b))
	}
	if token == "" {
		fmt.Fprintln(stderr, "otwatch update: an admin's API token is needed (--token-file or $OTWATCH_TOKEN; create one on the dashboard's system page)")
		return 2
	}
	client, err := updateClient(*fingerprint, *caFile, *insecure)
	if err != nil {
		fmt.Fprintf(stderr, "otwatch update: %v\n", err)
		return 2
	}
	c := &apiClient{base: *url, token: token, http: client}
	if *status {
		var st ui.UpdateState
		if err := c.getJSON("/api/system/update", &st); err != nil {
			fmt.Fprintf(stderr, "otwatch update: %v\n", err)
			return 1
		}
		printUpdateState(stdout, st)
		return 0
	}
	path := pos[0]
	b, f, err := bundle.OpenFile(path)
	if err != nil {
		fmt.Fprintf(stderr, "otwatch update: %v\n", err)
		return 1
	}
	defer f.Close()
	info, err := b.Describe()
	if *pubFile != "" && err == nil {
		var pub []byte
		if pub, err = os.ReadFile(*pubFile); err == nil {
			var key []byte
			if key, err = manifest.ParsePublicKey(pub); err == nil {
				if info, err = b.Verify(key); err == nil {
					err = bundle.PayloadSum(b.Payload(), nil, info)
				}
			}
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "otwatch update: %s: %v\n", path, err)
		return 1
	}
	fmt.Fprintf(stdout, "%s: otwatch %s for %s, root %d bytes, built %s\n", path, info.Version, info.Arch, info.Size,
		time.Unix(info.Epoch, 0).UTC().Format(time.RFC3339))
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		fmt.Fprintf(stderr, "otwatch update: %v\n", err)
		return 1
	}
	q := ""
	if *downgrade {
		q = "?allow_downgrade=1"
	}
	var acc ui.UpdateAccepted
	if err := c.post("/api/system/update"+q, f, &acc); err != nil {
		fmt.Fprintf(stderr, "otwatch update: %s refused: %v\n", *url, err)
		return 1
	}
	fmt.Fprintf(stdout, "uploaded to %s: %s\n", *url, acc.Detail)
	if *wait <= 0 {
		return 0
	}
	return waitForVersion(c, info.Version, *wait, stdout, stderr)
}

// waitForVersion follows the appliance through the reboot until it runs
// version and has marked it good, or the installer says no.
func waitForVersion(c *apiClient, version string, wait time.Duration, stdout, stderr io.Writer) int {
	deadline := time.Now().Add(wait)
	last := ""
	for time.Now().Before(deadline) {
		time.Sleep(3 * time.Second)
		var st ui.UpdateState
		if err := c.getJSON("/api/system/update", &st); err != nil {
			if last != "unreachable" {
				fmt.Fprintf(stdout, "  appliance not answering (rebooting?): %v\n", err)
				last = "unreachable"
			}
			continue
		}
		var h ui.Health
		c.getJSON("/api/health", &h)
		now := st.State + " " + h.Version
		if now != last {
			fmt.Fprintf(stdout, "  %s: %s, running %s on slot %s\n", time.Now().Format("15:04:05"), st.State, h.Version, st.Running)
			last = now
		}
		switch {
		case h.Version == version && !st.Trial && st.State == "idle":
			fmt.Fprintf(stdout, "the appliance runs %s and has marked it good\n", version)
			return 0
		case st.State == "refused" || st.State == "failed" || st.State == "rolled_back":
			fmt.Fprintf(stderr, "otwatch update: %s: %s\n", st.State, st.Detail)
			if st.Last != nil {
				fmt.Fprintf(stderr, "  last step: %s %s: %s\n", st.Last.Step, st.Last.Version, st.Last.Detail)
			}
			return 1
		}
	}
	fmt.Fprintf(stderr, "otwatch update: the appliance did not run %s within %s\n", version, wait)
	return 1
}

func printUpdateState(w io.Writer, st ui.UpdateState) {
	if !st.Supported {
		fmt.Fprintf(w, "updates not supported: %s\n", st.Reason)
		return
	}
	fmt.Fprintf(w, "state %s %s\n", st.State, st.Detail)
	for _, s := range st.Slots {
		run := ""
		if s.Running {
			run = " (running)"
		}
		fmt.Fprintf(w, "slot %s: %s %s%s\n", s.Name, dashIfEmpty(s.Version), s.State, run)
	}
	if st.Last != nil {
		fmt.Fprintf(w, "last step %s %s: %s %s\n", st.Last.TS.Format(time.RFC3339), st.Last.Step, st.Last.Version, st.Last.Detail)
	}
}

func dashIfEmpty(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// updateClient trusts the appliance's certificate by its SHA-256 (the
// self-signed certificate the appliance made on first start), by a CA, or,
// asked explicitly, not at all.
func updateClient(fingerprint, caFile string, insecure bool) (*http.Client, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	switch {
	case fingerprint != "":
		want, err := hex.DecodeString(strings.ReplaceAll(strings.ToLower(fingerprint), ":", ""))
		if err != nil || len(want) != sha256.Size {
			return nil, errors.New("--fingerprint: want the certificate's SHA-256 in hex")
		}
		cfg.InsecureSkipVerify = true // replaced by the pin below
		cfg.VerifyPeerCertificate = func(raw [][]byte, _ [][]*x509.Certificate) error {
			if len(raw) == 0 {
				return errors.New("no certificate")
			}
			got := sha256.Sum256(raw[0])
			if !bytes.Equal(got[:], want) {
				return fmt.Errorf("certificate SHA-256 %x is not the one given with --fingerprint", got)
			}
			return nil
		}
	case caFile != "":
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, err
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate", caFile)
		}
		cfg.RootCAs = pool
	case insecure:
		cfg.InsecureSkipVerify = true
	}
	return &http.Client{Timeout: 15 * time.Minute, Transport: &http.Transport{TLSClientConfig: cfg, Proxy: http.ProxyFromEnvironment}}, nil
}

type apiClient struct {
	base, token string
	http        *http.Client
}

func (c *apiClient) do(method, path string, body io.Reader, out any) error {
	req, err := http.NewRequest(method, c.base+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	req.Header.Set("Accept", "application/json")
	if body != nil {
		req.Header.Set("Content-Type", "application/octet-stream")
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode >= 300 {
		var e struct{ Error string }
		if json.Unmarshal(raw, &e) == nil && e.Error != "" {
			return fmt.Errorf("%s (%d)", e.Error, resp.StatusCode)
		}
		return fmt.Errorf("%s", resp.Status)
	}
	if out != nil {
		return json.Unmarshal(raw, out)
	}
	return nil
}

func (c *apiClient) getJSON(path string, out any) error { return c.do(http.MethodGet, path, nil, out) }

func (c *apiClient) post(path string, body *os.File, out any) error {
	return c.do(http.MethodPost, path, body, out)
}
