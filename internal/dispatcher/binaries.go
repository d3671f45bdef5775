package dispatcher

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"
)

// Uploaded programs. `meso submit` with a local path uploads the program
// (POST /v1/binaries?name=NAME, the body is the file; authenticated like
// every other endpoint); the dispatcher keeps it in <work dir>/binaries
// under its sha256, so it outlives a restart, and answers the appResource
// to submit: upload://<sha256>/<name>. A driver's task fetches it from
// GET /v1/binaries/<sha256>/<token>/<name>, which the agents' fetcher
// reaches without credentials: the token (an HMAC of the hash under a key
// kept in the work dir) is what makes the address unguessable.

// UploadScheme prefixes the appResource of an uploaded program.
const UploadScheme = "upload://"

// DefaultMaxUpload bounds an uploaded program.
const DefaultMaxUpload = 512 << 20

// uploadTimeout bounds reading an upload's body; maxUploads bounds the
// uploads read at once.
const (
	uploadTimeout = 5 * time.Minute
	maxUploads    = 4
)

// An uploaded program no driver the dispatcher keeps (queued, running,
// retrying, or among the retained ended ones) names is deleted once it is
// UploadGrace old (a program is uploaded just before its submission, and
// uploading it again makes it new); sweepEvery is how often Run looks.
const (
	UploadGrace = time.Hour
	sweepEvery  = 10 * time.Minute
)

// ErrNoProgram refuses a submission naming an upload the dispatcher does
// not hold (never uploaded, or deleted after UploadGrace unused).
var ErrNoProgram = errors.New("no such uploaded program (POST it to /v1/binaries first)")

var (
	hashRE = regexp.MustCompile(`^[0-9a-f]{64}$`)
	nameRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$`)
)

// ParseUpload splits an upload:// appResource into its hash and name.
func ParseUpload(resource string) (hash, name string, err error) {
	rest, ok := strings.CutPrefix(resource, UploadScheme)
	if !ok {
		return "", "", fmt.Errorf("%q is not an %s resource", resource, UploadScheme)
	}
	hash, name, _ = strings.Cut(rest, "/")
	if !hashRE.MatchString(hash) || !nameRE.MatchString(name) {
		return "", "", fmt.Errorf("appResource %q: want %s<sha256 in hex>/<file name>", resource, UploadScheme)
	}
	return hash, name, nil
}

func (s *Service) binaryDir() string { return filepath.Join(s.cfg.WorkDir, "binaries") }

// hasBinary reports whether the program of hash was uploaded.
func (s *Service) hasBinary(hash string) bool {
	fi, err := os.Stat(filepath.Join(s.binaryDir(), hash))
	return err == nil && fi.Mode().IsRegular()
}

// binaryKey returns the key of the fetch tokens, made on first use and
// kept in the work dir.
func (s *Service) binaryKey() ([]byte, error) {
	s.keyOnce.Do(func() {
		p := filepath.Join(s.cfg.WorkDir, "binaries.key")
		key, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			key = make([]byte, 32)
			_, _ = rand.Read(key)
			tmp := p + ".tmp"
			if err = os.WriteFile(tmp, key, 0o600); err == nil {
				err = os.Rename(tmp, p)
			}
		}
		if err == nil && len(key) != 32 {
			err = fmt.Errorf("%s: want 32 bytes, got %d", p, len(key))
		}
		s.key, s.keyErr = key, err
	})
	return s.key, s.keyErr
}

func (s *Service) token(hash string) (string, error) {
	key, err := s.binaryKey()
	if err != nil {
		return "", err
	}
	m := hmac.New(sha256.New, key)
	m.Write([]byte(hash))
	return hex.EncodeToString(m.Sum(nil)[:16]), nil
}

// fetchURI is what the agents' fetcher gets for a driver URI: the
// dispatcher's own address for an uploaded program, the URI as given
// otherwise.
func (s *Service) fetchURI(uri string) (string, error) {
	if !strings.HasPrefix(uri, UploadScheme) {
		return uri, nil
	}
	hash, name, err := ParseUpload(uri)
	if err != nil {
		return "", err
	}
	tok, err := s.token(hash)
	if err != nil {
		return "", err
	}
	return strings.TrimSuffix(s.cfg.URL, "/") + "/v1/binaries/" + hash + "/" + tok + "/" + url.PathEscape(name), nil
}

// upload stores a program under its sha256: temp file, fsync, rename.
func (s *Service) upload(w http.ResponseWriter, r *http.Request) {
	name := r.URL.Query().Get("name")
	if !nameRE.MatchString(name) {
		reply(w, http.StatusBadRequest, errorResponse(fmt.Sprintf("name %q: want a file name (letters, digits, . _ + -)", name)))
		return
	}
	if r.ContentLength > s.cfg.MaxUpload {
		reply(w, http.StatusRequestEntityTooLarge, errorResponse(fmt.Sprintf("the program of %d bytes exceeds the limit of %d bytes", r.ContentLength, s.cfg.MaxUpload)))
		return
	}
	select {
	case s.uploads <- struct{}{}:
		defer func() { <-s.uploads }()
	default:
		reply(w, http.StatusServiceUnavailable, errorResponse("too many uploads at once; try again"))
		return
	}
	_ = http.NewResponseController(w).SetReadDeadline(time.Now().Add(uploadTimeout))
	if err := os.MkdirAll(s.binaryDir(), 0o755); err != nil {
		reply(w, http.StatusInternalServerError, errorResponse(err.Error()))
		return
	}
	f, err := os.CreateTemp(s.binaryDir(), ".upload-*")
	if err != nil {
		reply(w, http.StatusInternalServerError, errorResponse(err.Error()))
		return
	}
	defer os.Remove(f.Name())
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), http.MaxBytesReader(w, r.Body, s.cfg.MaxUpload))
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		reply(w, http.StatusRequestEntityTooLarge, errorResponse(fmt.Sprintf("the program exceeds the limit of %d bytes", s.cfg.MaxUpload)))
		return
	case err != nil:
		reply(w, http.StatusBadRequest, errorResponse("reading the program: "+err.Error()))
		return
	case n == 0:
		reply(w, http.StatusBadRequest, errorResponse("the program is empty"))
		return
	}
	hash := hex.EncodeToString(h.Sum(nil))
	if err := os.Chmod(f.Name(), 0o644); err == nil {
		err = os.Rename(f.Name(), filepath.Join(s.binaryDir(), hash))
	}
	if err != nil {
		reply(w, http.StatusInternalServerError, errorResponse(err.Error()))
		return
	}
	s.log.Info("program uploaded", "name", name, "sha256", hash, "bytes", n)
	reply(w, http.StatusOK, Response{Action: "UploadBinaryResponse", Success: ptr(true),
		AppResource: UploadScheme + hash + "/" + name, Message: fmt.Sprintf("%d bytes stored as %s", n, hash)})
}

// checkUploadsLocked refuses a description naming an upload the
// dispatcher does not hold (s.mu is held, so a sweep cannot delete it
// between this check and the submission).
func (s *Service) checkUploadsLocked(d Description) error {
	for _, u := range d.URIs {
		if hash, _, err := ParseUpload(u); err == nil && !s.hasBinary(hash) {
			return fmt.Errorf("appResource %s: %w", u, ErrNoProgram)
		}
	}
	return nil
}

// SweepBinaries deletes the uploaded programs no driver names that are
// older than UploadGrace, and uploads' temporary files older than twice
// uploadTimeout (a crash mid-upload leaves one). It returns the programs
// deleted.
func (s *Service) SweepBinaries(now time.Time) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	used := map[string]bool{}
	for _, d := range s.core.Drivers() {
		for _, u := range d.Desc.URIs {
			if hash, _, err := ParseUpload(u); err == nil {
				used[hash] = true
			}
		}
	}
	entries, err := os.ReadDir(s.binaryDir())
	if err != nil {
		return nil
	}
	var gone []string
	for _, e := range entries {
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		age, name := now.Sub(fi.ModTime()), e.Name()
		switch {
		case hashRE.MatchString(name) && !used[name] && age > UploadGrace:
			gone = append(gone, name)
		case strings.HasPrefix(name, ".upload-") && age > 2*uploadTimeout:
		default:
			continue
		}
		if err := os.Remove(filepath.Join(s.binaryDir(), name)); err != nil && !errors.Is(err, os.ErrNotExist) {
			s.log.Warn("deleting an unused upload", "file", name, "err", err)
		}
	}
	if len(gone) > 0 {
		s.log.Info("deleted uploaded programs no driver names", "sha256", gone)
	}
	return gone
}

// serveBinary serves an uploaded program to a fetcher holding its token.
func (s *Service) serveBinary(w http.ResponseWriter, r *http.Request) {
	hash, tok := r.PathValue("hash"), r.PathValue("token")
	want, err := s.token(hash)
	if !hashRE.MatchString(hash) || err != nil || !hmac.Equal([]byte(tok), []byte(want)) || !s.hasBinary(hash) {
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(filepath.Join(s.binaryDir(), hash))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	http.ServeContent(w, r, "", fi.ModTime(), f)
}
