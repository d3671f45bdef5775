package shufflenet

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"

	"github.com/mesoproject/meso/rdd/internal/shuffle"
)

// MarkerName is the file an executor writes in its shuffle directory at
// start, holding a random token it announces with the directory. A reducer
// that reads the token there shares the directory's filesystem with it.
const MarkerName = ".meso-shuffle-marker"

// Announcement is what a Server answers on GET {Prefix}local: where its
// map outputs are on disk, and the marker token that proves it.
type Announcement struct {
	Dir   string `json:"dir"`   // the store's directory, absolute
	Token string `json:"token"` // the content of Dir/MarkerName
	Host  string `json:"host"`  // the executor's hostname, informative
}

// WriteMarker writes a fresh random marker into dir (readable by others,
// like the map outputs) and returns the announcement of dir.
func WriteMarker(dir, host string) (Announcement, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return Announcement{}, fmt.Errorf("shufflenet: marker: %w", err)
	}
	var b [16]byte
	rand.Read(b[:])
	a := Announcement{Dir: abs, Token: hex.EncodeToString(b[:]), Host: host}
	tmp, err := os.CreateTemp(abs, MarkerName+".tmp*")
	if err != nil {
		return Announcement{}, fmt.Errorf("shufflenet: marker: %w", err)
	}
	_, err = tmp.WriteString(a.Token)
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(tmp.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(tmp.Name(), filepath.Join(abs, MarkerName))
	}
	if err != nil {
		os.Remove(tmp.Name())
		return Announcement{}, fmt.Errorf("shufflenet: marker: %w", err)
	}
	return a, nil
}

// checkMarker reports whether a's directory holds a's marker token, that
// is whether this process sees the announcer's directory.
func checkMarker(a Announcement) error {
	if a.Dir == "" || !filepath.IsAbs(a.Dir) || filepath.Clean(a.Dir) != a.Dir {
		return fmt.Errorf("directory %q is not a clean absolute path", a.Dir)
	}
	if len(a.Token) < 32 {
		return fmt.Errorf("marker token too short")
	}
	f, err := os.Open(filepath.Join(a.Dir, MarkerName))
	if err != nil {
		return err
	}
	defer f.Close()
	got, err := io.ReadAll(io.LimitReader(f, 256))
	if err != nil {
		return err
	}
	if subtle.ConstantTimeCompare(got, []byte(a.Token)) != 1 {
		return fmt.Errorf("marker in %s holds another token", a.Dir)
	}
	return nil
}

// Source says where a fetched block was read.
type Source uint8

const (
	// Remote: over HTTP from the executor's server.
	Remote Source = iota
	// Local: from this executor's own store (Config.Local).
	Local
	// HostLocal: from the directory of another executor on the same host,
	// read directly (Config.HostLocal).
	HostLocal
)

func (s Source) String() string {
	switch s {
	case Local:
		return "local"
	case HostLocal:
		return "host-local"
	}
	return "remote"
}

// Stats counts a Fetcher's blocks by where they were read, and the
// host-local reads that fell back to HTTP.
type Stats struct {
	Local, HostLocal, Remote, Fallbacks int64
}

// peer is what a Fetcher learned about one address: ready is closed once
// store (nil: read it over HTTP) and why are set.
type peer struct {
	ready chan struct{}
	store *shuffle.Store
	why   string
}

// hostLocal returns the store through which addr's map outputs are read
// from disk, or nil when they must be fetched over HTTP. The first call for
// an address asks its server for its announcement and checks the marker;
// the answer is kept (a peer whose open fails later is demoted by demote).
func (f *Fetcher) hostLocal(ctx context.Context, addr string) *shuffle.Store {
	f.mu.Lock()
	p, ok := f.peers[addr]
	if !ok {
		p = &peer{ready: make(chan struct{})}
		f.peers[addr] = p
	}
	f.mu.Unlock()
	if ok {
		select {
		case <-p.ready:
			return p.store
		case <-ctx.Done():
			return nil
		}
	}
	st, why := f.probe(ctx, addr)
	f.mu.Lock()
	p.store, p.why = st, why
	if st == nil && ctx.Err() != nil { // cut short: ask again next time
		delete(f.peers, addr)
		f.mu.Unlock()
		close(p.ready)
		return nil
	}
	f.mu.Unlock()
	close(p.ready)
	if f.cfg.OnPeer != nil {
		f.cfg.OnPeer(addr, st != nil, why)
	}
	return st
}

// probe asks addr for its announcement and opens its directory when the
// marker checks out; otherwise it says why not.
func (f *Fetcher) probe(ctx context.Context, addr string) (*shuffle.Store, string) {
	ctx, cancel := context.WithTimeout(ctx, f.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+f.cfg.Prefix+"local", nil)
	if err != nil {
		return nil, err.Error()
	}
	if f.cfg.Token != "" {
		req.Header.Set(TokenHeader, f.cfg.Token)
	}
	resp, err := f.cfg.Client.Do(req)
	if err != nil {
		return nil, "asking for its directory: " + err.Error()
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, "asking for its directory: " + statusText(resp)
	}
	var a Announcement
	if err := json.NewDecoder(io.LimitReader(resp.Body, 8<<10)).Decode(&a); err != nil {
		return nil, "bad announcement: " + err.Error()
	}
	if err := checkMarker(a); err != nil {
		return nil, "not the same filesystem: " + err.Error()
	}
	st, err := shuffle.OpenPeer(a.Dir)
	if err != nil {
		return nil, err.Error()
	}
	return st, "marker of " + a.Dir + " checked"
}

// demote makes addr's blocks go over HTTP from now on (its directory could
// not be read: permissions, mapping).
func (f *Fetcher) demote(addr string, st *shuffle.Store, why string) {
	f.mu.Lock()
	p := f.peers[addr]
	demoted := p != nil && p.store == st
	if demoted {
		p.store, p.why = nil, why
	}
	f.mu.Unlock()
	if demoted {
		st.Close() // blocks still held stay mapped until released
		if f.cfg.OnPeer != nil {
			f.cfg.OnPeer(addr, false, why)
		}
	}
}

// Stats returns the fetcher's counts so far.
func (f *Fetcher) Stats() Stats {
	return Stats{Local: f.stats.local.Load(), HostLocal: f.stats.hostLocal.Load(),
		Remote: f.stats.remote.Load(), Fallbacks: f.stats.fallbacks.Load()}
}

// announceHandler answers GET {Prefix}local with a (the token is checked
// by the Server).
func announceHandler(a *Announcement) http.HandlerFunc {
	body, _ := json.Marshal(a)
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		w.Write(body)
	}
}

// closePeers closes the peer stores (Fetcher.Close).
func (f *Fetcher) closePeers() {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, p := range f.peers {
		select {
		case <-p.ready:
			if p.store != nil {
				p.store.Close()
				p.store = nil
			}
		default:
		}
	}
}
