package shuffleservice

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mesoproject/meso/rdd/internal/shuffle"
	"github.com/mesoproject/meso/rdd/internal/shufflenet"
)

const token = "tok"

// serve starts a service on loopback and returns it with its host:port.
func serve(t *testing.T) (*Service, string) {
	t.Helper()
	s, err := New(Config{})
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := s.Server()
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return s, ln.Addr().String()
}

// executorDir writes map outputs of shuffle 0 like an executor's session:
// dir/shuffle/..., dir named rdd-*. Map m's block for reducer r is "m.r".
func executorDir(t *testing.T, maps, reducers int) string {
	t.Helper()
	dir, err := os.MkdirTemp(t.TempDir(), "rdd-")
	if err != nil {
		t.Fatal(err)
	}
	store, err := shuffle.NewStore(filepath.Join(dir, "shuffle"))
	if err != nil {
		t.Fatal(err)
	}
	for m := range maps {
		w := store.NewWriter(0, m, reducers, 1<<20)
		for r := range reducers {
			b := fmt.Appendf(w.Buf(r), "%d.%d", m, r)
			w.Put(r, b, len(b))
		}
		if _, err := w.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	store.Close()
	return dir
}

func call(t *testing.T, method, url, tok, body string) int {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if tok != "" {
		req.Header.Set(shufflenet.TokenHeader, tok)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

func mustCall(t *testing.T, method, url, tok, body string, want int) {
	t.Helper()
	if got := call(t, method, url, tok, body); got != want {
		t.Fatalf("%s %s: status %d, want %d", method, url, got, want)
	}
}

// fetchAll fetches reducer r of every map from addr and returns the blocks
// by map.
func fetchAll(t *testing.T, addr, tok string, maps, r int) (map[int]string, error) {
	t.Helper()
	f := shufflenet.NewFetcher(shufflenet.Config{Token: tok, MaxRetries: -1, Timeout: 5 * time.Second})
	defer f.Close()
	var wants []shufflenet.Want
	for m := range maps {
		wants = append(wants, shufflenet.Want{Map: m, Reduce: r, Addr: addr, Size: int64(len(fmt.Sprintf("%d.%d", m, r)))})
	}
	got := map[int]string{}
	err := f.Fetch(context.Background(), 0, wants, func(b shufflenet.Block) error {
		got[b.Map] = string(bytes.Clone(b.Data))
		b.Release()
		return nil
	})
	return got, err
}

func TestServesARegisteredExecutorsOutputs(t *testing.T) {
	_, hp := serve(t)
	base := "http://" + hp + Prefix + "apps/app-1"
	dir := executorDir(t, 3, 2)
	mustCall(t, "POST", base, token, `{"heartbeat_timeout_ms": 60000}`, http.StatusNoContent)
	mustCall(t, "POST", base+"/executors/e1", token, fmt.Sprintf(`{"dir": %q}`, dir), http.StatusNoContent)
	got, err := fetchAll(t, Addr(hp, "app-1", "e1"), token, 3, 1)
	if err != nil {
		t.Fatal(err)
	}
	for m := range 3 {
		if want := fmt.Sprintf("%d.1", m); got[m] != want {
			t.Errorf("map %d: got %q, want %q", m, got[m], want)
		}
	}
	// Another token is refused, on the fetch and on every call.
	if _, err := fetchAll(t, Addr(hp, "app-1", "e1"), "other", 3, 1); !errors.Is(err, shufflenet.ErrUnauthorized) {
		t.Errorf("fetch with another token: %v, want ErrUnauthorized", err)
	}
	mustCall(t, "POST", base+"/heartbeat", "other", "", http.StatusUnauthorized)
	mustCall(t, "POST", base+"/executors/e2", "other", fmt.Sprintf(`{"dir": %q}`, dir), http.StatusUnauthorized)
	mustCall(t, "DELETE", base, "", "", http.StatusUnauthorized)
	// An unknown executor's outputs are missing: a fetch failure naming every map.
	_, err = fetchAll(t, Addr(hp, "app-1", "e9"), token, 3, 1)
	var ffe *shufflenet.FetchFailedError
	if !errors.As(err, &ffe) || len(ffe.Maps()) != 3 {
		t.Errorf("unknown executor: %v, want a FetchFailedError of 3 maps", err)
	}
}

func TestRefusesBadRegistrations(t *testing.T) {
	_, hp := serve(t)
	base := "http://" + hp + Prefix + "apps/"
	notRDD := t.TempDir()
	os.Mkdir(filepath.Join(notRDD, "shuffle"), 0o755)
	good := executorDir(t, 1, 1)
	link := filepath.Join(t.TempDir(), "rdd-link")
	os.Symlink(good, link)
	for _, c := range []struct {
		name, url, tok, body string
		want                 int
	}{
		{"no token", base + "a/executors/e1", "", fmt.Sprintf(`{"dir": %q}`, good), http.StatusUnauthorized},
		{"relative dir", base + "a/executors/e1", token, `{"dir": "rdd-x"}`, http.StatusBadRequest},
		{"not an rdd dir", base + "a/executors/e1", token, fmt.Sprintf(`{"dir": %q}`, notRDD), http.StatusBadRequest},
		{"symlink", base + "a/executors/e1", token, fmt.Sprintf(`{"dir": %q}`, link), http.StatusBadRequest},
		{"dir with ..", base + "a/executors/e1", token, fmt.Sprintf(`{"dir": %q}`, good+"/../"+filepath.Base(good)), http.StatusBadRequest},
		{"bad json", base + "a/executors/e1", token, `{`, http.StatusBadRequest},
		{"bad app id", base + "a%20b/executors/e1", token, `{}`, http.StatusBadRequest},
		{"huge body", base + "a", token, `{"x":"` + strings.Repeat("x", MaxBody) + `"}`, http.StatusRequestEntityTooLarge},
		{"unknown app heartbeat", base + "nope/heartbeat", token, "", http.StatusNotFound},
	} {
		if got := call(t, "POST", c.url, c.tok, c.body); got != c.want {
			t.Errorf("%s: status %d, want %d", c.name, got, c.want)
		}
	}
	if _, err := os.Stat(link); err != nil {
		t.Errorf("the symlink is gone: %v", err)
	}
}

func TestCleanerDeletesAnAppWhoseHeartbeatsStopped(t *testing.T) {
	s, hp := serve(t)
	base := "http://" + hp + Prefix + "apps/"
	dead, alive := executorDir(t, 1, 1), executorDir(t, 1, 1)
	mustCall(t, "POST", base+"dead", token, `{"heartbeat_timeout_ms": 1000}`, http.StatusNoContent)
	mustCall(t, "POST", base+"dead/executors/e1", token, fmt.Sprintf(`{"dir": %q}`, dead), http.StatusNoContent)
	mustCall(t, "POST", base+"alive", token, `{"heartbeat_timeout_ms": 1000}`, http.StatusNoContent)
	mustCall(t, "POST", base+"alive/executors/e1", token, fmt.Sprintf(`{"dir": %q}`, alive), http.StatusNoContent)
	now := time.Now()
	if gone := s.Clean(now); len(gone) != 0 {
		t.Fatalf("cleaned %v before any timeout", gone)
	}
	// Time is the cleaner's input: "alive" beats at now+0.8 s.
	s.mu.Lock()
	s.apps["alive"].lastBeat = now.Add(800 * time.Millisecond)
	s.mu.Unlock()
	if gone := s.Clean(now.Add(1500 * time.Millisecond)); len(gone) != 1 || gone[0] != "dead" {
		t.Fatalf("cleaned %v, want [dead]", gone)
	}
	if _, err := os.Stat(dead); !os.IsNotExist(err) {
		t.Errorf("dead app's dir: %v, want it deleted", err)
	}
	if _, err := os.Stat(alive); err != nil {
		t.Errorf("live app's dir: %v", err)
	}
	if got, err := fetchAll(t, Addr(hp, "alive", "e1"), token, 1, 0); err != nil || got[0] != "0.0" {
		t.Errorf("live app's block: %q, %v", got[0], err)
	}
	// DELETE removes at once.
	mustCall(t, "DELETE", base+"alive", token, "", http.StatusNoContent)
	if _, err := os.Stat(alive); !os.IsNotExist(err) {
		t.Errorf("deleted app's dir: %v, want it deleted", err)
	}
	if apps := s.Apps(); len(apps) != 0 {
		t.Errorf("apps left: %v", apps)
	}
}

func TestServesSingleBlocks(t *testing.T) {
	_, hp := serve(t)
	dir := executorDir(t, 2, 2)
	mustCall(t, "POST", "http://"+hp+Prefix+"apps/a/executors/e1", token, fmt.Sprintf(`{"dir": %q}`, dir), http.StatusNoContent)
	url := "http://" + Addr(hp, "a", "e1") + "/block/0/1/0"
	req, _ := http.NewRequest("GET", url, nil)
	req.Header.Set(shufflenet.TokenHeader, token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || b.String() != "1.0" {
		t.Errorf("block: %s %q, want 200 \"1.0\"", resp.Status, b.String())
	}
	mustCall(t, "GET", url, "other", "", http.StatusUnauthorized)
	mustCall(t, "GET", "http://"+Addr(hp, "a", "e1")+"/block/0/7/0", token, "", http.StatusNotFound)
}
