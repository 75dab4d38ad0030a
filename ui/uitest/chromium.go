// Package uitest drives a real headless Chromium for the dashboard's
// browser tests (ui and the daemon test in cmd/otwatch): a minimal Chrome
// DevTools Protocol client over a hand-written WebSocket client (RFC 6455,
// client side only), so the tests need no module beyond the standard
// library. It is for tests only; nothing in the appliance imports it.
package uitest

import (
	"bufio"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// ---- WebSocket ----

type wsConn struct {
	c  net.Conn
	br *bufio.Reader
	wm sync.Mutex
}

func wsDial(rawURL string) (*wsConn, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
	if err != nil {
		return nil, err
	}
	keyb := make([]byte, 16)
	rand.Read(keyb)
	key := base64.StdEncoding.EncodeToString(keyb)
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: %s\r\nSec-WebSocket-Version: 13\r\n\r\n",
		u.RequestURI(), u.Host, key)
	br := bufio.NewReaderSize(c, 1<<16)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		c.Close()
		return nil, err
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		c.Close()
		return nil, fmt.Errorf("websocket handshake: %s", resp.Status)
	}
	h := sha1.Sum([]byte(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"))
	if resp.Header.Get("Sec-WebSocket-Accept") != base64.StdEncoding.EncodeToString(h[:]) {
		c.Close()
		return nil, errors.New("websocket handshake: bad accept key")
	}
	return &wsConn{c: c, br: br}, nil
}

func (w *wsConn) writeFrame(op byte, p []byte) error {
	w.wm.Lock()
	defer w.wm.Unlock()
	hdr := []byte{0x80 | op}
	switch n := len(p); {
	case n < 126:
		hdr = append(hdr, 0x80|byte(n))
	case n < 1<<16:
		hdr = append(hdr, 0x80|126, byte(n>>8), byte(n))
	default:
		hdr = append(hdr, 0x80|127)
		hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
	}
	var mask [4]byte
	rand.Read(mask[:])
	hdr = append(hdr, mask[:]...)
	buf := make([]byte, len(p))
	for i := range p {
		buf[i] = p[i] ^ mask[i%4]
	}
	_, err := w.c.Write(append(hdr, buf...))
	return err
}

// readMessage returns the next complete text/binary message.
func (w *wsConn) readMessage() ([]byte, error) {
	var msg []byte
	for {
		var h [2]byte
		if _, err := io.ReadFull(w.br, h[:]); err != nil {
			return nil, err
		}
		fin, op := h[0]&0x80 != 0, h[0]&0x0f
		n := uint64(h[1] & 0x7f)
		switch n {
		case 126:
			var b [2]byte
			if _, err := io.ReadFull(w.br, b[:]); err != nil {
				return nil, err
			}
			n = uint64(binary.BigEndian.Uint16(b[:]))
		case 127:
			var b [8]byte
			if _, err := io.ReadFull(w.br, b[:]); err != nil {
				return nil, err
			}
			n = binary.BigEndian.Uint64(b[:])
		}
		var mask [4]byte
		if h[1]&0x80 != 0 {
			if _, err := io.ReadFull(w.br, mask[:]); err != nil {
				return nil, err
			}
		}
		if n > 256<<20 {
			return nil, errors.New("websocket frame too large")
		}
		p := make([]byte, n)
		if _, err := io.ReadFull(w.br, p); err != nil {
			return nil, err
		}
		if h[1]&0x80 != 0 {
			for i := range p {
				p[i] ^= mask[i%4]
			}
		}
		switch op {
		case 0x8:
			return nil, io.EOF
		case 0x9:
			w.writeFrame(0xA, p)
			continue
		case 0xA:
			continue
		}
		msg = append(msg, p...)
		if fin {
			return msg, nil
		}
	}
}

// ---- DevTools protocol ----

type cdpMsg struct {
	ID     int64           `json:"id,omitempty"`
	Method string          `json:"method,omitempty"`
	Params json.RawMessage `json:"params,omitempty"`
	Result json.RawMessage `json:"result,omitempty"`
	Error  *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

type cdp struct {
	ws      *wsConn
	mu      sync.Mutex
	next    int64
	pending map[int64]chan cdpMsg
	onEvent func(method string, params json.RawMessage)
	closed  chan struct{}
}

func newCDP(ws *wsConn, onEvent func(string, json.RawMessage)) *cdp {
	c := &cdp{ws: ws, pending: map[int64]chan cdpMsg{}, onEvent: onEvent, closed: make(chan struct{})}
	go c.readLoop()
	return c
}

func (c *cdp) readLoop() {
	defer close(c.closed)
	for {
		b, err := c.ws.readMessage()
		if err != nil {
			return
		}
		var m cdpMsg
		if json.Unmarshal(b, &m) != nil {
			continue
		}
		if m.ID != 0 {
			c.mu.Lock()
			ch := c.pending[m.ID]
			delete(c.pending, m.ID)
			c.mu.Unlock()
			if ch != nil {
				ch <- m
			}
			continue
		}
		if c.onEvent != nil {
			c.onEvent(m.Method, m.Params)
		}
	}
}

func (c *cdp) call(method string, params any, out any) error {
	c.mu.Lock()
	c.next++
	id := c.next
	ch := make(chan cdpMsg, 1)
	c.pending[id] = ch
	c.mu.Unlock()
	if params == nil {
		params = struct{}{}
	}
	p, _ := json.Marshal(params)
	b, _ := json.Marshal(cdpMsg{ID: id, Method: method, Params: p})
	if err := c.ws.writeFrame(0x1, b); err != nil {
		return err
	}
	select {
	case m := <-ch:
		if m.Error != nil {
			return fmt.Errorf("%s: %s", method, m.Error.Message)
		}
		if out != nil {
			return json.Unmarshal(m.Result, out)
		}
		return nil
	case <-c.closed:
		return fmt.Errorf("%s: connection closed", method)
	case <-time.After(30 * time.Second):
		return fmt.Errorf("%s: timeout", method)
	}
}

// eval runs JavaScript in the page (awaiting promises) and returns its JSON value.
func (c *cdp) eval(expr string) (json.RawMessage, error) {
	var r struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	if err := c.call("Runtime.evaluate", map[string]any{"expression": expr, "awaitPromise": true, "returnByValue": true}, &r); err != nil {
		return nil, err
	}
	if r.ExceptionDetails != nil {
		return nil, fmt.Errorf("%s: %s %s", expr, r.ExceptionDetails.Text, r.ExceptionDetails.Exception.Description)
	}
	return r.Result.Value, nil
}

// Browser is a headless Chromium driven over CDP.
type Browser struct {
	t        testing.TB
	cmd      *exec.Cmd
	cdp      *cdp
	shots    string
	mu       sync.Mutex
	console  []string // console errors, exceptions, failed loads
	requests []string // every URL the page requested
}

// FindChromium is the path of an installed Chromium or Chrome, "" when none is.
func FindChromium() string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

var clientError = regexp.MustCompile(`status of 4\d\d`)

var devtoolsRE = regexp.MustCompile(`DevTools listening on (ws://\S+)`)

// Start launches Chromium (skipping the test when none is installed) and
// attaches to its page; screenshots go to the folder shots. It is killed,
// with its helper processes, when the test ends.
func Start(t testing.TB, shots string) *Browser {
	bin := FindChromium()
	if bin == "" {
		t.Skip("chromium not installed (apt-get install -y chromium): skipping the browser test")
	}
	// not t.TempDir: chromium's helper processes may still write for a moment after it is killed
	profile, err := os.MkdirTemp("", "otwatch-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-default-apps",
		"--disable-extensions", "--disable-features=Translate,OptimizationHints,MediaRouter,AutofillServerCommunication",
		"--no-default-browser-check", "--metrics-recording-only", "--password-store=basic", "--use-mock-keychain",
		"--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1", // no name resolves: nothing can leave the machine
		"--ignore-certificate-errors",                               // the test accepts the self-signed certificate; nothing else does
		"--window-size=1366,768", "--user-data-dir="+profile, "--remote-debugging-port=0", "about:blank")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true} // its helpers too, in one group
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		os.RemoveAll(profile)
		t.Skipf("chromium does not start: %v", err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // only the group this test started
		cmd.Wait()
		for i := 0; i < 20; i++ {
			if os.RemoveAll(profile) == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	found := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		sent := false
		for sc.Scan() {
			if m := devtoolsRE.FindStringSubmatch(sc.Text()); m != nil && !sent {
				found <- m[1]
				sent = true
			}
		}
	}()
	var wsURL string
	select {
	case wsURL = <-found:
	case <-time.After(30 * time.Second):
		t.Fatal("chromium did not print its DevTools address")
	}
	u, _ := url.Parse(wsURL)
	// the page target
	var targets []struct {
		Type string `json:"type"`
		WS   string `json:"webSocketDebuggerUrl"`
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + u.Host + "/json/list")
		if err == nil {
			json.NewDecoder(resp.Body).Decode(&targets)
			resp.Body.Close()
		}
		ok := false
		for _, tg := range targets {
			ok = ok || tg.Type == "page"
		}
		if ok || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	pageWS := ""
	for _, tg := range targets {
		if tg.Type == "page" {
			pageWS = tg.WS
			break
		}
	}
	if pageWS == "" {
		t.Fatal("no page target")
	}
	ws, err := wsDial(pageWS)
	if err != nil {
		t.Fatal(err)
	}
	b := &Browser{t: t, cmd: cmd, shots: shots}
	b.cdp = newCDP(ws, b.event)
	for _, m := range []string{"Page.enable", "Runtime.enable", "Log.enable", "Network.enable"} {
		if err := b.cdp.call(m, nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	if err := b.cdp.call("Emulation.setDeviceMetricsOverride", map[string]any{"width": 1366, "height": 768, "deviceScaleFactor": 1, "mobile": false}, nil); err != nil {
		t.Fatal(err)
	}
	return b
}

func (b *Browser) event(method string, params json.RawMessage) {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch method {
	case "Runtime.consoleAPICalled":
		var p struct {
			Type string `json:"type"`
			Args []struct {
				Value       any    `json:"value"`
				Description string `json:"description"`
			} `json:"args"`
		}
		json.Unmarshal(params, &p)
		if p.Type == "error" || p.Type == "assert" {
			var parts []string
			for _, a := range p.Args {
				parts = append(parts, fmt.Sprint(a.Value, a.Description))
			}
			b.console = append(b.console, "console."+p.Type+": "+strings.Join(parts, " "))
		}
	case "Runtime.exceptionThrown":
		b.console = append(b.console, "exception: "+string(params))
	case "Log.entryAdded":
		var p struct {
			Entry struct {
				Level  string `json:"level"`
				Text   string `json:"text"`
				URL    string `json:"url"`
				Source string `json:"source"`
			} `json:"entry"`
		}
		json.Unmarshal(params, &p)
		// 4xx answers the app expects and handles (the session probe's 401,
		// a refused form's 400) are network entries, not script errors;
		// exceptions, CSP violations and 5xx still fail the test
		if p.Entry.Level == "error" && !(p.Entry.Source == "network" && clientError.MatchString(p.Entry.Text)) {
			b.console = append(b.console, "log: "+p.Entry.Source+": "+p.Entry.Text+" "+p.Entry.URL)
		}
	case "Network.requestWillBeSent":
		var p struct {
			Request struct {
				URL string `json:"url"`
			} `json:"request"`
		}
		json.Unmarshal(params, &p)
		b.requests = append(b.requests, p.Request.URL)
	}
}

// Eval runs JavaScript in the page (awaiting promises) and returns its
// JSON value; an exception fails the test.
func (b *Browser) Eval(expr string) json.RawMessage {
	b.t.Helper()
	v, err := b.cdp.eval(expr)
	if err != nil {
		b.t.Fatal(err)
	}
	return v
}

// EvalInt is Eval of a number.
func (b *Browser) EvalInt(expr string) int {
	b.t.Helper()
	var n int
	json.Unmarshal(b.Eval(expr), &n)
	return n
}

// EvalString is Eval of a string.
func (b *Browser) EvalString(expr string) string {
	b.t.Helper()
	var s string
	json.Unmarshal(b.Eval(expr), &s)
	return s
}

// WaitFor polls a JavaScript condition until it is true, failing the test
// (with a screenshot and the page's text) after timeout.
func (b *Browser) WaitFor(what, cond string, timeout time.Duration) {
	b.t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		v, err := b.cdp.eval("!!(" + cond + ")")
		if err == nil && string(v) == "true" {
			return
		}
		if time.Now().After(deadline) {
			b.Screenshot("timeout-" + strings.ReplaceAll(what, " ", "-"))
			b.t.Fatalf("timed out waiting for %s (%s); last error %v; page: %s", what, cond, err,
				b.EvalString("document.body ? document.body.innerText.slice(0, 800) : ''"))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Navigate loads a URL in the page.
func (b *Browser) Navigate(u string) {
	b.t.Helper()
	if err := b.cdp.call("Page.navigate", map[string]any{"url": u}, nil); err != nil {
		b.t.Fatal(err)
	}
}

// Screenshot saves the page as NAME.png in the screenshot folder.
func (b *Browser) Screenshot(name string) {
	b.capture(name, map[string]any{"format": "png"})
}

// FullScreenshot saves the whole page, beyond the viewport, up to
// maxHeight CSS pixels of it, as NAME.png in the screenshot folder.
func (b *Browser) FullScreenshot(name string, maxHeight float64) {
	var m struct {
		CSS struct{ Width, Height float64 } `json:"cssContentSize"`
	}
	if err := b.cdp.call("Page.getLayoutMetrics", map[string]any{}, &m); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	clip := map[string]any{"x": 0, "y": 0, "width": m.CSS.Width, "height": min(m.CSS.Height, maxHeight), "scale": 1}
	b.capture(name, map[string]any{"format": "png", "captureBeyondViewport": true, "clip": clip})
}

// capture takes a screenshot with params (Page.captureScreenshot's) and
// saves it as NAME.png in the screenshot folder.
func (b *Browser) capture(name string, params map[string]any) {
	var r struct {
		Data string `json:"data"`
	}
	if err := b.cdp.call("Page.captureScreenshot", params, &r); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	png, err := base64.StdEncoding.DecodeString(r.Data)
	if err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
		return
	}
	path := filepath.Join(b.shots, name+".png")
	if err := os.WriteFile(path, png, 0o644); err != nil {
		b.t.Logf("screenshot %s: %v", name, err)
	}
}

// ConsoleErrors are the console errors, exceptions, CSP violations and
// failed loads (4xx answers aside) seen so far.
func (b *Browser) ConsoleErrors() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.console...)
}

// Requested is every URL the page requested.
func (b *Browser) Requested() []string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]string(nil), b.requests...)
}

// Call sends one DevTools Protocol command.
func (b *Browser) Call(method string, params, out any) error { return b.cdp.call(method, params, out) }

// SetFiles puts local files into the <input type=file> a CSS selector
// names, as an operator choosing them would (DOM.setFileInputFiles).
func (b *Browser) SetFiles(selector string, paths []string) {
	b.t.Helper()
	var r struct {
		Result struct {
			ObjectID string `json:"objectId"`
		} `json:"result"`
	}
	if err := b.cdp.call("Runtime.evaluate", map[string]any{"expression": "document.querySelector(" + strconvQuote(selector) + ")"}, &r); err != nil {
		b.t.Fatal(err)
	}
	if r.Result.ObjectID == "" {
		b.t.Fatalf("no element %s", selector)
	}
	if err := b.cdp.call("DOM.setFileInputFiles", map[string]any{"files": paths, "objectId": r.Result.ObjectID}, nil); err != nil {
		b.t.Fatal(err)
	}
	// the page learns of the choice as it would from the file dialog
	b.Eval("document.querySelector(" + strconvQuote(selector) + ").dispatchEvent(new Event('change', {bubbles: true}))")
}

func strconvQuote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}
