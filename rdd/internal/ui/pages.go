package ui

import (
	"embed"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

//go:embed templates/*.html
var templateFS embed.FS

var pages = template.Must(template.New("").Funcs(template.FuncMap{
	"dur":      formatDuration,
	"since":    func(a, b time.Time) string { return span(a, b) },
	"bytes":    formatBytes,
	"when":     formatTime,
	"lower":    strings.ToLower,
	"pct":      func(a, b int) int { return percent(a, b) },
	"dagsvg":   func(d *dag) template.HTML { return d.svg() },
	"timeline": func(t *timeline) template.HTML { return t.svg() },
	"taskcounts": func(c JobCounts) progress {
		return progress{Done: c.TasksDone, Total: c.Tasks, Failed: c.TasksFailed}
	},
	"stagecounts": func(s *Stage) progress { return progress{Done: s.Succeeded, Total: s.Tasks, Failed: s.Failed} },
	"stagerows":   func(base string, st []*Stage) stageRows { return stageRows{Base: base, Stages: st} },
}).ParseFS(templateFS, "templates/*.html"))

// Cached is one dataset's cached partitions, for the storage page.
type Cached struct {
	Dataset    int
	Name       string
	Level      string
	Partitions int
	Memory     int64
	Disk       int64
	// Executors, in cluster mode, are the executors holding the partitions
	// (from the driver's cache locations; their sizes are not reported, so
	// Memory and Disk are 0); empty for the driver's own block manager.
	Executors []string
}

// view is what every page template gets.
type view struct {
	Title   string
	Tab     string
	Base    string // prefix of the app's pages: "" live, "/history/<file>" in the history server
	App     App
	Refresh bool
	S       *State
	Data    any
}

// render serves one of the app's pages from st. path is relative to the
// app's base.
func render(w http.ResponseWriter, r *http.Request, st *State, base, path string, storage []Cached) {
	v := view{Base: base, App: st.App, Refresh: st.App.Running, S: st}
	var name string
	switch strings.TrimSuffix(path, "/") {
	case "", "/jobs":
		name, v.Tab, v.Title = "jobs", "jobs", "Jobs"
		v.Data = jobRows(st)
	case "/jobs/job":
		id, err := strconv.Atoi(r.URL.Query().Get("id"))
		j := st.Jobs[id]
		if err != nil || j == nil {
			http.Error(w, fmt.Sprintf("no job %q", r.URL.Query().Get("id")), http.StatusNotFound)
			return
		}
		name, v.Tab, v.Title = "job", "jobs", fmt.Sprintf("Job %d", id)
		v.Data = jobPage{Job: j, Counts: st.Counts(j), Stages: stagesOf(st, j), DAG: jobDAG(st, j)}
	case "/stages":
		name, v.Tab, v.Title = "stages", "stages", "Stages"
		v.Data = st.StageList()
	case "/stages/stage":
		id, err1 := strconv.Atoi(r.URL.Query().Get("id"))
		at, err2 := strconv.Atoi(r.URL.Query().Get("attempt"))
		stg := st.Stages[StageKey{id, at}]
		if err1 != nil || err2 != nil || stg == nil {
			http.Error(w, fmt.Sprintf("no stage %q attempt %q", r.URL.Query().Get("id"), r.URL.Query().Get("attempt")), http.StatusNotFound)
			return
		}
		name, v.Tab, v.Title = "stage", "stages", fmt.Sprintf("Stage %d (attempt %d)", id, at)
		v.Data = stagePage{Stage: stg, Tasks: sortedTasks(stg)}
	case "/executors":
		name, v.Tab, v.Title = "executors", "executors", "Executors"
		execs := st.ExecutorList()
		v.Data = executorsPage{Executors: execs, Timeline: newTimeline(execs, st.App)}
	case "/storage":
		name, v.Tab, v.Title = "storage", "storage", "Storage"
		v.Data = storage
	case "/environment":
		name, v.Tab, v.Title = "environment", "environment", "Environment"
	default:
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	if err := pages.ExecuteTemplate(w, name+".html", v); err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
	}
}

// progress is a tasks bar's numbers.
type progress struct{ Done, Total, Failed int }

// stageRows is the stage table's input.
type stageRows struct {
	Base   string
	Stages []*Stage
}

type jobRow struct {
	*Job
	Counts JobCounts
}

func jobRows(st *State) []jobRow {
	var out []jobRow
	for _, j := range st.JobList() {
		out = append(out, jobRow{j, st.Counts(j)})
	}
	return out
}

type jobPage struct {
	Job    *Job
	Counts JobCounts
	Stages []*Stage
	DAG    *dag
}

func stagesOf(st *State, j *Job) []*Stage {
	out := append([]*Stage(nil), j.Skipped...)
	for _, k := range j.Stages {
		out = append(out, st.Stages[k])
	}
	return out
}

type stagePage struct {
	Stage *Stage
	Tasks []*Task
}

func sortedTasks(st *Stage) []*Task {
	out := append([]*Task(nil), st.TaskRows...)
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].Partition != out[b].Partition {
			return out[a].Partition < out[b].Partition
		}
		return out[a].Attempt < out[b].Attempt
	})
	return out
}

type executorsPage struct {
	Executors []*Executor
	Timeline  *timeline
}

func formatDuration(d time.Duration) string {
	switch {
	case d <= 0:
		return "0 ms"
	case d < time.Second:
		return fmt.Sprintf("%d ms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%.1f s", d.Seconds())
	case d < time.Hour:
		return fmt.Sprintf("%.1f min", d.Minutes())
	default:
		return fmt.Sprintf("%.1f h", d.Hours())
	}
}

// span is the time from a to b, or "" when a is unset; b unset means
// still running (shown as such).
func span(a, b time.Time) string {
	if a.IsZero() {
		return ""
	}
	if b.IsZero() {
		return "running"
	}
	return formatDuration(b.Sub(a))
}

func formatTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.Local().Format("2006-01-02 15:04:05")
}

func formatBytes(n int64) string {
	switch {
	case n <= 0:
		return ""
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	default:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	}
}

func percent(a, b int) int {
	if b <= 0 {
		return 0
	}
	return min(100, a*100/b)
}

// appPath escapes a history file name for a URL path.
func appPath(name string) string { return "/history/" + url.PathEscape(name) }
