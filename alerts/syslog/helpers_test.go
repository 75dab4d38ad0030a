package syslog

import (
	"bufio"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"io"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/otwatch/otwatch/alerts"
)

// pki is a throwaway CA with a server certificate (localhost, 127.0.0.1) and
// a client certificate, written as PEM files in dir.
type pki struct {
	CA, ServerCert, ServerKey, ClientCert, ClientKey string
	pool                                             *x509.CertPool
	server                                           tls.Certificate
}

func newPKI(t *testing.T, dir string) *pki {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "otwatch test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	p := &pki{pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	write := func(name, typ string, der []byte) string {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	p.CA = write("ca.pem", "CERTIFICATE", caDER)
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, prefix string) (string, string, tls.Certificate) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: cn},
			NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
			KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
			DNSNames: []string{"localhost"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kder, _ := x509.MarshalPKCS8PrivateKey(key)
		c := write(prefix+".pem", "CERTIFICATE", der)
		k := write(prefix+".key", "PRIVATE KEY", kder)
		pair, err := tls.LoadX509KeyPair(c, k)
		if err != nil {
			t.Fatal(err)
		}
		return c, k, pair
	}
	p.ServerCert, p.ServerKey, p.server = leaf(2, "localhost", x509.ExtKeyUsageServerAuth, "server")
	p.ClientCert, p.ClientKey, _ = leaf(3, "otwatch-sensor", x509.ExtKeyUsageClientAuth, "client")
	return p
}

// freePort returns a loopback port free for TCP and UDP at the moment.
func freePort(t *testing.T) int {
	t.Helper()
	for i := 0; i < 20; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		u, err := net.ListenPacket("udp", "127.0.0.1:"+strconv.Itoa(port))
		if err == nil {
			u.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// receiver is an in-process syslog server: octet-counted TCP or TLS, or UDP.
type receiver struct {
	mu    sync.Mutex
	msgs  []string
	conns []net.Conn
	l     net.Listener
	pc    net.PacketConn
	wg    sync.WaitGroup
}

func startReceiver(t *testing.T, network, addr string, conf *tls.Config) *receiver {
	t.Helper()
	r := &receiver{}
	var err error
	switch network {
	case "udp":
		r.pc, err = net.ListenPacket("udp", addr)
		if err != nil {
			t.Fatal(err)
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			buf := make([]byte, 65536)
			for {
				n, _, err := r.pc.ReadFrom(buf)
				if err != nil {
					return
				}
				r.add(string(buf[:n]))
			}
		}()
	default:
		if network == "tls" {
			r.l, err = tls.Listen("tcp", addr, conf)
		} else {
			r.l, err = net.Listen("tcp", addr)
		}
		if err != nil {
			t.Fatal(err)
		}
		r.wg.Add(1)
		go func() {
			defer r.wg.Done()
			for {
				c, err := r.l.Accept()
				if err != nil {
					return
				}
				r.mu.Lock()
				r.conns = append(r.conns, c)
				r.mu.Unlock()
				r.wg.Add(1)
				go func() {
					defer r.wg.Done()
					defer c.Close()
					br := bufio.NewReader(c)
					for {
						m, err := readOctetCounted(br)
						if err != nil {
							return
						}
						r.add(m)
					}
				}()
			}
		}()
	}
	t.Cleanup(r.stop)
	return r
}

func readOctetCounted(br *bufio.Reader) (string, error) {
	ls, err := br.ReadString(' ')
	if err != nil {
		return "", err
	}
	n, err := strconv.Atoi(ls[:len(ls)-1])
	if err != nil || n <= 0 || n > 1<<20 {
		return "", fmt.Errorf("bad MSG-LEN %q", ls)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(br, buf); err != nil {
		return "", err
	}
	return string(buf), nil
}

func (r *receiver) add(m string) {
	r.mu.Lock()
	r.msgs = append(r.msgs, m)
	r.mu.Unlock()
}

func (r *receiver) got() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.msgs...)
}

func (r *receiver) stop() {
	if r.l != nil {
		r.l.Close()
	}
	if r.pc != nil {
		r.pc.Close()
	}
	r.mu.Lock()
	for _, c := range r.conns {
		c.Close()
	}
	r.mu.Unlock()
}

// waitFor polls until cond holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// numbered is alert i of a test run: its id and message carry i.
func numbered(i int) *alerts.Alert {
	a := testAlert()
	a.ID = fmt.Sprintf("alert-%05d", i)
	a.Message = fmt.Sprintf("test alert %d = x | y", i)
	return a
}
