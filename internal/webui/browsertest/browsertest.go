// Package browsertest starts headless browsers for tests of the web UI:
// Chromium driven through the DevTools protocol by chromedp, and Firefox
// driven through WebDriver BiDi (Firefox). Tests skip, saying why, when
// the browser is not installed (Debian's packages are `chromium` and
// `firefox-esr`; .ci/run installs both).
package browsertest

import (
	"context"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// Binary returns the path of an installed Chromium, or "" when there is
// none. MESO_CHROMIUM names one explicitly.
func Binary() string {
	if p := os.Getenv("MESO_CHROMIUM"); p != "" {
		return p
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// New starts a headless Chromium for t and returns a browser context (one
// tab) that lives until timeout passes or the test ends. It skips t when
// Chromium is not installed.
func New(t testing.TB, timeout time.Duration) context.Context {
	t.Helper()
	bin := Binary()
	if bin == "" {
		t.Skip("chromium is not installed (apt-get install chromium, or set MESO_CHROMIUM): skipping the browser test")
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(bin),
		chromedp.NoSandbox, // tests run as root in CI, where Chromium's sandbox refuses to start
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 900),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(alloc)
	ctx, cancelTimeout := context.WithTimeout(ctx, timeout)
	t.Cleanup(func() { cancelTimeout(); cancelTab(); cancelAlloc() })
	if err := chromedp.Run(ctx); err != nil { // starts the browser
		t.Fatalf("starting chromium %s: %v", bin, err)
	}
	return ctx
}

// ArtifactDir is where screenshots go: $MESO_TEST_ARTIFACTS/<test name>
// when set (CI keeps it), else a directory removed with the test.
func ArtifactDir(t testing.TB) string {
	t.Helper()
	base := os.Getenv("MESO_TEST_ARTIFACTS")
	if base == "" {
		return t.TempDir()
	}
	dir := base + "/" + sanitize(t.Name())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func sanitize(s string) string {
	b := []byte(s)
	for i, c := range b {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}
