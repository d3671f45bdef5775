package dispatcher

import (
	"context"
	"embed"
	"html/template"
	"net/http"
	"net/url"
	"time"

	"github.com/mesoproject/meso/internal/webui"
)

// The dispatcher's web UI (Spark's MesosClusterUI): server-rendered pages
// with the master web UI's style sheet, no script.
//
//	/               queued, launched, retrying and finished drivers
//	/driver/{id}    one driver: its description, state history, and links
//	                to its task (and sandbox) and agent in the master's UI

//go:embed ui/*.html
var uiFiles embed.FS

var uiPages = template.Must(template.New("").Funcs(template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	},
	"esc": url.PathEscape,
}).ParseFS(uiFiles, "ui/*.html"))

// uiDriver is a driver as the pages show it.
type uiDriver struct {
	Driver
	TaskURL, AgentURL string // in the master's web UI; empty when unknown
	// DriverUI is the running driver's own web UI: its framework's
	// webui_url, as the master reports it.
	DriverUI string
}

type uiPage struct {
	Title                                 string
	Master, MasterURL, FrameworkID        string
	Queued, Launched, Retrying, Completed []uiDriver
	Driver                                *uiDriver
}

// driverUITimeout bounds the master query a page makes for the drivers'
// web UIs; a page without an answer shows no links.
const driverUITimeout = 2 * time.Second

// driverUIs maps the running drivers to their web UIs, read from the
// master's frameworks (an active framework whose label names the driver).
func (s *Service) driverUIs(ctx context.Context) map[string]string {
	s.mu.Lock()
	leader := s.leader
	s.mu.Unlock()
	if leader == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, driverUITimeout)
	defer cancel()
	fws, err := s.frameworks(ctx, leader)
	if err != nil {
		s.log.Warn("reading the drivers' web UIs", "err", err)
		return nil
	}
	out := map[string]string{}
	for _, f := range fws {
		if u, err := url.Parse(f.webUI); f.active && err == nil && (u.Scheme == "http" || u.Scheme == "https") {
			out[f.driver] = f.webUI
		}
	}
	return out
}

func (s *Service) page(ctx context.Context) uiPage {
	p := uiPage{Title: "Dispatcher", Master: s.cfg.Master, MasterURL: webui.MasterURL(s.cfg.Master)}
	s.mu.Lock()
	p.FrameworkID = s.fwID
	drivers := s.core.Drivers()
	s.mu.Unlock()
	uis := s.driverUIs(ctx)
	for _, d := range drivers {
		u := s.uiDriver(d, p.MasterURL, p.FrameworkID)
		if d.State == Running {
			u.DriverUI = uis[d.ID]
		}
		switch d.State {
		case Queued:
			p.Queued = append(p.Queued, u)
		case Running:
			p.Launched = append(p.Launched, u)
		case Retrying:
			p.Retrying = append(p.Retrying, u)
		default:
			p.Completed = append(p.Completed, u)
		}
	}
	return p
}

func (s *Service) uiDriver(d Driver, master, fwID string) uiDriver {
	u := uiDriver{Driver: d}
	if master != "" && d.TaskID != "" && fwID != "" {
		u.TaskURL = master + "#/tasks/" + url.PathEscape(fwID) + "/" + url.PathEscape(d.TaskID)
	}
	if master != "" && d.AgentID != "" {
		u.AgentURL = master + "#/agents/" + url.PathEscape(d.AgentID)
	}
	return u
}

func (s *Service) uiHandlers(mux *http.ServeMux) {
	mux.Handle("GET /static/style.css", http.StripPrefix("/static/", http.FileServerFS(webui.Files())))
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		render(w, http.StatusOK, "index.html", s.page(r.Context()))
	})
	mux.HandleFunc("GET /driver/{id}", func(w http.ResponseWriter, r *http.Request) {
		p := s.page(r.Context())
		s.mu.Lock()
		d, ok := s.core.Driver(r.PathValue("id"))
		s.mu.Unlock()
		if !ok {
			p.Title = "No such driver"
			render(w, http.StatusNotFound, "driver.html", p)
			return
		}
		u := s.uiDriver(d, p.MasterURL, p.FrameworkID)
		for _, l := range p.Launched {
			if l.ID == d.ID {
				u.DriverUI = l.DriverUI
			}
		}
		p.Title, p.Driver = "Driver "+d.ID, &u
		render(w, http.StatusOK, "driver.html", p)
	})
}

func render(w http.ResponseWriter, status int, name string, p uiPage) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Content-Security-Policy", "default-src 'self'; script-src 'none'")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_ = uiPages.ExecuteTemplate(w, name, p)
}
