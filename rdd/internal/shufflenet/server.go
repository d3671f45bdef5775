package shufflenet

import (
	"bufio"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net/http"
	"strconv"
	"time"

	"github.com/mesoproject/meso/rdd/internal/shuffle"
)

// PathPrefix is where a Server is mounted by default; the fetch endpoint is
// PathPrefix + "fetch".
const PathPrefix = "/shuffle/v1/"

// TokenHeader carries the application's shared secret.
const TokenHeader = "X-Meso-Shuffle-Token"

// ContentType is the media type of requests and responses.
const ContentType = "application/x-meso-shuffle"

// ServerConfig bounds what one Server accepts. Zero fields take the
// defaults named.
type ServerConfig struct {
	// Prefix is the path the server is mounted under (PathPrefix).
	Prefix string
	// Token, when set, must be sent in TokenHeader; other requests get 401.
	Token string
	// MaxRequestBytes bounds a request body (1 MiB); larger ones get 413.
	MaxRequestBytes int64
	// MaxBlocks bounds the blocks one request asks for (65536).
	MaxBlocks int
	// MaxConcurrent bounds the requests served at once (64); more get 503.
	MaxConcurrent int
	// WriteTimeout bounds writing one frame to the client (30 s).
	WriteTimeout time.Duration
	// Logger receives one line per refused or failed request (discarded).
	Logger *slog.Logger
	// Announce, when set, is answered on GET Prefix+"local" (see
	// Announcement): reducers on the same host read the store's files
	// directly. Without it that path is 404 and they use HTTP.
	Announce *Announcement
}

func (c ServerConfig) withDefaults() ServerConfig {
	if c.Prefix == "" {
		c.Prefix = PathPrefix
	}
	if c.MaxRequestBytes <= 0 {
		c.MaxRequestBytes = 1 << 20
	}
	if c.MaxBlocks <= 0 {
		c.MaxBlocks = 1 << 16
	}
	if c.MaxConcurrent <= 0 {
		c.MaxConcurrent = 64
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 30 * time.Second
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	return c
}

// Server serves the blocks of one Store over HTTP. It is an http.Handler.
type Server struct {
	store *shuffle.Store
	cfg   ServerConfig
	slots chan struct{} // one per request being served
	// announce answers GET Prefix+"local" (cfg.Announce set)
	announce http.HandlerFunc
}

// NewServer returns a server of store's blocks.
func NewServer(store *shuffle.Store, cfg ServerConfig) *Server {
	cfg = cfg.withDefaults()
	s := &Server{store: store, cfg: cfg, slots: make(chan struct{}, cfg.MaxConcurrent)}
	if cfg.Announce != nil {
		s.announce = announceHandler(cfg.Announce)
	}
	return s
}

func (s *Server) refuse(w http.ResponseWriter, r *http.Request, code int, msg string) {
	s.cfg.Logger.Info("shuffle request refused", "remote", r.RemoteAddr, "status", code, "reason", msg)
	http.Error(w, "shufflenet: "+msg, code)
}

// ServeHTTP answers POST Prefix+"fetch" and, with an announcement,
// GET Prefix+"local".
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	method := http.MethodPost
	switch {
	case r.URL.Path == s.cfg.Prefix+"fetch":
	case r.URL.Path == s.cfg.Prefix+"local" && s.cfg.Announce != nil:
		method = http.MethodGet
	default:
		s.refuse(w, r, http.StatusNotFound, "no such endpoint "+strconv.Quote(r.URL.Path))
		return
	}
	if r.Method != method {
		w.Header().Set("Allow", method)
		s.refuse(w, r, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed")
		return
	}
	if s.cfg.Token != "" && subtle.ConstantTimeCompare([]byte(r.Header.Get(TokenHeader)), []byte(s.cfg.Token)) != 1 {
		s.refuse(w, r, http.StatusUnauthorized, "missing or wrong "+TokenHeader)
		return
	}
	if method == http.MethodGet {
		s.announce(w, r)
		return
	}
	select {
	case s.slots <- struct{}{}:
		defer func() { <-s.slots }()
	default:
		w.Header().Set("Retry-After", "1")
		s.refuse(w, r, http.StatusServiceUnavailable, "too many concurrent requests")
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.MaxRequestBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			s.refuse(w, r, http.StatusRequestEntityTooLarge, fmt.Sprintf("request body over %d bytes", tooBig.Limit))
			return
		}
		s.refuse(w, r, http.StatusBadRequest, "reading request: "+err.Error())
		return
	}
	req, err := decodeRequest(body, s.cfg.MaxBlocks)
	if err != nil {
		s.refuse(w, r, http.StatusBadRequest, err.Error())
		return
	}
	if len(req.Spans) > 0 && !s.store.Has(req.Shuffle, req.Spans[0].Map) && !s.store.HasShuffle(req.Shuffle) {
		s.refuse(w, r, http.StatusNotFound, "unknown shuffle "+strconv.Itoa(req.Shuffle))
		return
	}
	w.Header().Set("Content-Type", ContentType)
	if err := s.stream(w, req); err != nil {
		s.cfg.Logger.Info("shuffle response cut", "remote", r.RemoteAddr, "shuffle", req.Shuffle, "err", err)
	}
}

// stream writes one frame per requested block, then the end frame.
func (s *Server) stream(w http.ResponseWriter, req request) error {
	rc := http.NewResponseController(w)
	bw := bufio.NewWriterSize(w, 64<<10)
	var hdr []byte
	count := 0
	for _, sp := range req.Spans {
		for red := sp.Reduce; red < sp.Reduce+sp.Count; red++ {
			if err := rc.SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout)); err != nil && !errors.Is(err, http.ErrNotSupported) {
				return err
			}
			id := shuffle.BlockID{Shuffle: req.Shuffle, Map: sp.Map, Reduce: red}
			data, sum, release, err := s.store.FetchRaw(id)
			f := frame{Kind: frameBlock, Map: sp.Map, Reduce: red}
			switch {
			case errors.Is(err, fs.ErrNotExist):
				f.Kind, f.Msg = frameMissing, "map output not found"
			case err != nil:
				var fe *shuffle.FetchError
				f.Kind, f.Msg = frameError, err.Error()
				if errors.As(err, &fe) {
					f.Msg = fe.Err.Error()
				}
			default:
				f.Len, f.CRC = int64(len(data)), sum
			}
			hdr = appendFrameHeader(hdr[:0], f)
			_, err = bw.Write(hdr)
			if err == nil && f.Kind == frameBlock {
				_, err = bw.Write(data)
			}
			if release != nil {
				release()
			}
			if err != nil {
				return err
			}
			count++
		}
	}
	if _, err := bw.Write(appendFrameHeader(hdr[:0], frame{Kind: frameEnd, Count: count})); err != nil {
		return err
	}
	return bw.Flush()
}
