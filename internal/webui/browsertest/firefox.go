package browsertest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"regexp"
	"syscall"
	"testing"
	"time"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// Firefox is a headless Firefox driven over WebDriver BiDi, the W3C
// protocol Firefox serves on a websocket when started with
// --remote-debugging-port. It is the simplest robust way to assert on a
// page's DOM in Firefox: no geckodriver (Debian does not package it), no
// test hooks in the page; a few JSON commands (session.new,
// browsingContext.navigate, script.evaluate) over one websocket
// (github.com/gobwas/ws, which chromedp already brings in).
type Firefox struct {
	conn    net.Conn
	rw      io.ReadWriter
	context string // the top-level browsing context (the tab)
	nextID  int
}

// FirefoxBinary returns the path of an installed Firefox, or "" when
// there is none. MESO_FIREFOX names one explicitly.
func FirefoxBinary() string {
	if p := os.Getenv("MESO_FIREFOX"); p != "" {
		return p
	}
	for _, name := range []string{"firefox-esr", "firefox"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

var bidiListening = regexp.MustCompile(`WebDriver BiDi listening on (ws://\S+)`)

// NewFirefox starts a headless Firefox with a fresh profile for t and
// opens a BiDi session on its tab; it is stopped when the test ends. It
// skips t when Firefox is not installed.
func NewFirefox(t testing.TB, timeout time.Duration) *Firefox {
	t.Helper()
	bin := FirefoxBinary()
	if bin == "" {
		t.Skip("firefox is not installed (apt-get install firefox-esr, or set MESO_FIREFOX): skipping the Firefox test")
	}
	profile := t.TempDir()
	cmd := exec.Command(bin, "--headless", "--no-remote", "--profile", profile, "--remote-debugging-port=0", "about:blank")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout = io.Discard
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting firefox %s: %v", bin, err)
	}
	done := make(chan struct{})
	t.Cleanup(func() {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) // its content processes are in its group
		<-done
	})
	found := make(chan string, 1)
	go func() {
		defer close(done)
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := bidiListening.FindStringSubmatch(sc.Text()); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
		_ = cmd.Wait()
	}()
	var addr string
	select {
	case addr = <-found:
	case <-done:
		t.Fatalf("firefox %s exited before serving WebDriver BiDi", bin)
	case <-time.After(timeout):
		t.Fatalf("firefox %s did not serve WebDriver BiDi within %s", bin, timeout)
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	conn, br, _, err := ws.Dial(ctx, addr+"/session")
	if err != nil {
		t.Fatalf("BiDi websocket %s: %v", addr, err)
	}
	t.Cleanup(func() { conn.Close() })
	f := &Firefox{conn: conn, rw: conn}
	if br != nil {
		f.rw = struct {
			io.Reader
			io.Writer
		}{br, conn}
	}
	// Every command's answer must come within the browser's timeout.
	if err := conn.SetDeadline(time.Now().Add(timeout)); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Call("session.new", map[string]any{"capabilities": map[string]any{}}); err != nil {
		t.Fatalf("BiDi session.new: %v", err)
	}
	tree, err := f.Call("browsingContext.getTree", map[string]any{})
	if err != nil {
		t.Fatalf("BiDi browsingContext.getTree: %v", err)
	}
	var contexts struct {
		Contexts []struct {
			Context string `json:"context"`
		} `json:"contexts"`
	}
	if err := json.Unmarshal(tree, &contexts); err != nil || len(contexts.Contexts) == 0 {
		t.Fatalf("BiDi browsing contexts %s: %v", tree, err)
	}
	f.context = contexts.Contexts[0].Context
	return f
}

// Call sends one BiDi command and returns its result, skipping the events
// that arrive before it.
func (f *Firefox) Call(method string, params any) (json.RawMessage, error) {
	f.nextID++
	id := f.nextID
	req, err := json.Marshal(map[string]any{"id": id, "method": method, "params": params})
	if err != nil {
		return nil, err
	}
	if err := wsutil.WriteClientText(f.rw, req); err != nil {
		return nil, err
	}
	for {
		msg, err := wsutil.ReadServerText(f.rw)
		if err != nil {
			return nil, err
		}
		var resp struct {
			ID      *int            `json:"id"`
			Type    string          `json:"type"`
			Result  json.RawMessage `json:"result"`
			Error   string          `json:"error"`
			Message string          `json:"message"`
		}
		if err := json.Unmarshal(msg, &resp); err != nil {
			return nil, fmt.Errorf("BiDi message %q: %w", msg, err)
		}
		if resp.ID == nil || *resp.ID != id {
			continue // an event, or an answer to nobody
		}
		if resp.Type == "error" {
			return nil, fmt.Errorf("%s: %s: %s", method, resp.Error, resp.Message)
		}
		return resp.Result, nil
	}
}

// Navigate loads url in the tab and waits until it has loaded.
func (f *Firefox) Navigate(url string) error {
	_, err := f.Call("browsingContext.navigate", map[string]any{"context": f.context, "url": url, "wait": "complete"})
	return err
}

// Eval evaluates a JavaScript expression in the page (awaiting a
// promise) and returns its value as a string: the expression should give
// a string.
func (f *Firefox) Eval(expr string) (string, error) {
	res, err := f.Call("script.evaluate", map[string]any{
		"expression": expr, "target": map[string]any{"context": f.context}, "awaitPromise": true,
	})
	if err != nil {
		return "", err
	}
	var out struct {
		Type   string `json:"type"`
		Result struct {
			Type  string `json:"type"`
			Value any    `json:"value"`
		} `json:"result"`
		ExceptionDetails struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	if err := json.Unmarshal(res, &out); err != nil {
		return "", err
	}
	if out.Type == "exception" {
		return "", fmt.Errorf("%s: %s", expr, out.ExceptionDetails.Text)
	}
	if s, ok := out.Result.Value.(string); ok {
		return s, nil
	}
	return fmt.Sprint(out.Result.Value), nil
}
