package rdd

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/mesoproject/meso/rdd/internal/mesosbackend"
	"github.com/mesoproject/meso/rdd/internal/shufflenet"
	"github.com/mesoproject/meso/rdd/shuffleservice"
)

// The external shuffle service in cluster mode
// (spark.shuffle.service.enabled): each executor registers its local
// directory with the service on its agent (MESO_SHUFFLE_SERVICE_ADDR, else
// MESO_RDD_HOSTNAME:spark.shuffle.service.port), keeps it when it exits,
// and tells the driver the service's address; the driver registers the
// application with every such service, sends heartbeats, and from then on
// hands reducers the service's address for that executor's map outputs,
// which stay registered when the executor is removed or lost. The service
// deletes the files when the driver ends (DELETE) or its heartbeats stop.

const (
	keyShuffleService     = "spark.shuffle.service.enabled"
	keyShuffleServicePort = "spark.shuffle.service.port"
	// keyHeartbeatInterval is how often the driver tells the services it
	// lives (Spark's executor heartbeat interval, 10 s).
	keyHeartbeatInterval = "spark.executor.heartbeatInterval"
	// keyServiceTimeout is how long a service waits for a heartbeat
	// before it deletes the application's files (falls back to
	// spark.network.timeout, 120 s).
	keyServiceTimeout = "spark.storage.blockManagerSlaveTimeoutMs"
	essCallTimeout    = 10 * time.Second
)

// essCall sends one JSON call to a shuffle service with the application's
// token.
func essCall(ctx context.Context, hc *http.Client, method, url, token string, body any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	ctx, cancel := context.WithTimeout(ctx, essCallTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, url, rd)
	if err != nil {
		return err
	}
	req.Header.Set(shufflenet.TokenHeader, token)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// essDriver is the driver's side: the services its executors use.
type essDriver struct {
	app, token string
	interval   time.Duration
	timeout    time.Duration
	hc         *http.Client
	log        *slog.Logger

	mu       sync.Mutex
	services map[string]bool // guarded by mu; host:port -> registered
	failing  map[string]bool // run's only: services whose last heartbeat failed (logged once)
}

func newESSDriver(conf map[string]string, app, token string, log *slog.Logger) (*essDriver, error) {
	d := &essDriver{app: app, token: token, interval: 10 * time.Second, timeout: 120 * time.Second,
		hc: &http.Client{}, log: log, services: map[string]bool{}, failing: map[string]bool{}}
	if v, ok := conf[keyHeartbeatInterval]; ok {
		t, err := mesosbackend.ParseDuration(v, time.Millisecond)
		if err != nil || t <= 0 {
			return nil, fmt.Errorf("%w: %s=%q: want a positive time", ErrConfig, keyHeartbeatInterval, v)
		}
		d.interval = t
	}
	for _, k := range []string{keyServiceTimeout, "spark.network.timeout"} {
		if v, ok := conf[k]; ok {
			unit := time.Second
			if k == keyServiceTimeout {
				unit = time.Millisecond
			}
			t, err := mesosbackend.ParseDuration(v, unit)
			if err != nil || t <= 0 {
				return nil, fmt.Errorf("%w: %s=%q: want a positive time", ErrConfig, k, v)
			}
			d.timeout = t
			break
		}
	}
	return d, nil
}

func (d *essDriver) url(svc string) string {
	return "http://" + svc + shuffleservice.Prefix + "apps/" + d.app
}

// register registers the application with svc (once per service).
func (d *essDriver) register(ctx context.Context, svc string) error {
	d.mu.Lock()
	known := d.services[svc]
	d.mu.Unlock()
	if known {
		return nil
	}
	err := essCall(ctx, d.hc, http.MethodPost, d.url(svc), d.token, map[string]int64{"heartbeat_timeout_ms": d.timeout.Milliseconds()})
	if err != nil {
		return err
	}
	d.mu.Lock()
	d.services[svc] = true
	d.mu.Unlock()
	d.log.Info("registered with the external shuffle service", "service", svc, "heartbeat_timeout", d.timeout)
	return nil
}

func (d *essDriver) list() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	out := make([]string, 0, len(d.services))
	for s := range d.services {
		out = append(out, s)
	}
	return out
}

// run sends heartbeats every interval until done is closed.
func (d *essDriver) run(done <-chan struct{}) {
	t := time.NewTicker(d.interval)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			for _, svc := range d.list() {
				err := essCall(context.Background(), d.hc, http.MethodPost, d.url(svc)+"/heartbeat", d.token, nil)
				switch {
				case err != nil && !d.failing[svc]:
					d.log.Warn("shuffle service heartbeat failed (its agent may be lost); retrying quietly", "service", svc, "err", err)
				case err == nil && d.failing[svc]:
					d.log.Info("shuffle service heartbeat answered again", "service", svc)
				}
				d.failing[svc] = err != nil
			}
		}
	}
}

// stop tells every service the application ended (its files go).
func (d *essDriver) stop() {
	for _, svc := range d.list() {
		if err := essCall(context.Background(), d.hc, http.MethodDelete, d.url(svc), d.token, nil); err != nil {
			d.log.Warn("unregistering from the shuffle service", "service", svc, "err", err)
		}
	}
}

// serveShuffleService is POST /shuffle-service/{exec}: an executor says
// which service holds its outputs. The driver registers the application
// there before it answers, and keeps the executor's outputs past its
// removal. With ?failed=1 the body is why the executor could not register
// with its agent's service: a setup error (the agent runs none, or not on
// that port) that fails the session's jobs, as executors that cannot
// start do, instead of launching executors that exit one after another.
func (c *cluster) serveShuffleService(w http.ResponseWriter, r *http.Request) {
	if c.ess == nil {
		http.Error(w, "spark.shuffle.service.enabled is off", http.StatusConflict)
		return
	}
	id := r.PathValue("exec")
	b, err := io.ReadAll(http.MaxBytesReader(w, r.Body, 1024))
	if err == nil && r.URL.Query().Get("failed") == "1" {
		err := fmt.Errorf("%w: executor %s cannot use the external shuffle service on its agent (spark.shuffle.service.enabled; does the agent run --shuffle_service?): %s",
			ErrExecutorStart, id, bytes.TrimSpace(b))
		c.s.log.Error("external shuffle service unusable", "executor", id, "err", err)
		c.fail(err)
		w.WriteHeader(http.StatusNoContent)
		return
	}
	svc := string(b)
	if err == nil {
		_, _, err = net.SplitHostPort(svc)
	}
	if err != nil {
		http.Error(w, "want the service's host:port", http.StatusBadRequest)
		return
	}
	if err := c.ess.register(r.Context(), svc); err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	c.mu.Lock()
	e := c.execs[id]
	if e != nil {
		e.service = svc
	}
	c.mu.Unlock()
	if e == nil {
		http.Error(w, "unknown executor "+id, http.StatusNotFound)
		return
	}
	c.s.mu.Lock()
	c.s.books.KeepOutputs(id)
	c.s.mu.Unlock()
	c.s.log.Info("executor's outputs served by the external shuffle service", "executor", id, "service", svc)
	w.WriteHeader(http.StatusNoContent)
}

// useShuffleService is the executor's side: it registers dir with the
// service on its agent and tells the driver, before running any task.
func (e *executor) useShuffleService(ctx context.Context, conf map[string]string, app, dir, host string) error {
	svc := os.Getenv(shuffleservice.EnvAddr)
	if svc == "" {
		port := strconv.Itoa(shuffleservice.DefaultPort)
		if p := conf[keyShuffleServicePort]; p != "" {
			port = p
		}
		svc = net.JoinHostPort(host, port)
	}
	hc := &http.Client{}
	url := "http://" + shuffleservice.Addr(svc, app, e.id)
	if err := essCall(ctx, hc, http.MethodPost, url, e.token, map[string]string{"dir": dir}); err != nil {
		err = fmt.Errorf("registering with the external shuffle service at %s: %w", svc, err)
		msg := err.Error()
		if len(msg) > 900 {
			msg = msg[:900]
		}
		e.tellDriver(ctx, hc, "?failed=1", msg) // best effort: the executor exits anyway
		return fmt.Errorf("rdd: executor %s: %w", e.id, err)
	}
	if err := e.tellDriver(ctx, hc, "", svc); err != nil {
		return fmt.Errorf("rdd: executor %s: telling the driver its shuffle service: %w", e.id, err)
	}
	e.log.Info("outputs served by the external shuffle service", "service", svc, "dir", dir)
	return nil
}

// tellDriver posts body to the driver's /shuffle-service/{exec}.
func (e *executor) tellDriver(ctx context.Context, hc *http.Client, query, body string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, e.driverURL+"/shuffle-service/"+e.id+query, bytes.NewReader([]byte(body)))
	if err != nil {
		return err
	}
	req.Header.Set(shufflenet.TokenHeader, e.token)
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		return fmt.Errorf("%s: %s", resp.Status, bytes.TrimSpace(msg))
	}
	return nil
}

// outputAddrLocked is where reducers fetch executor ex's map outputs: its
// external shuffle service when it registered with one (alive or not),
// else its own server while it lives, else nowhere ("").
func (c *cluster) outputAddrLocked(ex string) string {
	x := c.execs[ex]
	switch {
	case x == nil:
		return ""
	case x.service != "":
		return shuffleservice.Addr(x.service, c.ess.app, ex)
	case !x.gone:
		return x.addr
	}
	return ""
}
