package webui

import (
	"embed"
	"html/template"
	"io/fs"
	"net/http"
	"slices"
	"strings"
)

//go:embed static
var static embed.FS

// Files are the UI's static files, rooted at the directory holding
// index.html.
func Files() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	return sub
}

// Handler serves the UI: index.html at "/" and the files under it by name.
// Any other path is 404, so the master's own endpoints are never shadowed
// by a file and a mistyped endpoint is not answered with the page.
func Handler() http.Handler {
	files := http.FileServerFS(Files())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := r.URL.Path
		if p != "/" && !isAsset(p) {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		secureHeaders(w)
		if p == "/" {
			w.Header().Set("Cache-Control", "no-cache")
		}
		files.ServeHTTP(w, r)
	})
}

// isAsset reports whether p names one of the UI's files.
func isAsset(p string) bool {
	name := strings.TrimPrefix(p, "/")
	if name == "" || name == "index.html" || strings.HasSuffix(name, "/") {
		return false // "/" is the page; directories are not listed
	}
	info, err := fs.Stat(Files(), name)
	return err == nil && !info.IsDir()
}

// secureHeaders keeps the page self-contained: scripts and styles from the
// master only; connections to other origins are allowed for the agents'
// sandboxes.
func secureHeaders(w http.ResponseWriter) {
	h := w.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; connect-src *; img-src 'self' data:; frame-ancestors 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
}

var agentPage = template.Must(template.New("agent").Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>meso agent {{.ID}}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:3rem auto;padding:0 1rem}
a{color:#2f6fdb}code{font-family:ui-monospace,monospace}</style></head>
<body><h1>meso agent</h1>
<p>Agent <code>{{.ID}}</code>{{if .Version}}, version {{.Version}}{{end}}.</p>
{{if .Master}}<p>Its cluster is shown by the master's web UI:
<a id="master" href="{{.Master}}">{{.Master}}</a>{{if .ID}}
(<a id="self" href="{{.Master}}#/agents/{{.ID}}">this agent</a>){{end}}.</p>{{end}}
<p>Endpoints: <a href="/state">/state</a>, <a href="/health">/health</a>,
<a href="/metrics/snapshot">/metrics/snapshot</a>, <code>POST /api/v1</code>.</p>
</body></html>
`))

// AgentInfo is what the agent's page shows; the agent computes it per
// request (its id and master change over its life).
type AgentInfo struct {
	ID      string
	Version string
	Master  string // the master's UI, "http://host:port/"; empty when unknown
}

// AgentPage serves the agent's page at "/" (any other path is 404).
func AgentPage(info func() AgentInfo) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/" {
			http.NotFound(w, r)
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		secureHeaders(w)
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		_ = agentPage.Execute(w, info())
	})
}

// MasterURL turns a master address as the agent is given it ("host:port",
// "http://host:port", or a comma-separated list of them) into the URL of
// the first master's UI.
func MasterURL(addr string) string {
	addr = strings.TrimSpace(strings.Split(addr, ",")[0])
	if addr == "" {
		return ""
	}
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	return strings.TrimSuffix(addr, "/") + "/"
}

// MasterOrigins lists the browser origins ("http://host:port") of the
// masters in an agent's master address list.
func MasterOrigins(addr string) []string {
	var out []string
	for _, a := range strings.Split(addr, ",") {
		if u := MasterURL(a); u != "" {
			out = append(out, strings.TrimSuffix(u, "/"))
		}
	}
	return out
}

// CORS lets pages of the given origins (the masters' web UI) call h: the
// agent's operator and files endpoints, which the UI reads sandboxes
// through. It answers their preflight OPTIONS requests and marks answers
// readable by them; pages of any other origin get no such headers, so a
// web page an operator happens to visit cannot read sandboxes through
// their browser. The UI's own Authorization header (the credentials the
// user entered on the page) is allowed in requests from those origins;
// the browser's credentials (cookies, its own Basic authentication cache)
// are not: no Access-Control-Allow-Credentials.
func CORS(h http.Handler, origins func() []string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		origin := r.Header.Get("Origin")
		w.Header().Add("Vary", "Origin")
		if origin == "" || !slices.Contains(origins(), origin) {
			h.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Access-Control-Allow-Origin", origin)
		if r.Method == http.MethodOptions && r.Header.Get("Access-Control-Request-Method") != "" {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type, Accept, Authorization")
			w.Header().Set("Access-Control-Max-Age", "600")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.ServeHTTP(w, r)
	})
}
