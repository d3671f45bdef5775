package sim

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Report holds the figures of one run. The table (WriteTable) and the JSON
// form (WriteJSON) carry the same figures.
type Report struct {
	Mode   string `json:"mode"`   // "in-process" or "external"
	Master string `json:"master"` // host:port of the master

	Agents       int     `json:"agents"`
	Frameworks   int     `json:"frameworks"`
	Tasks        int     `json:"tasks"`
	TaskDuration float64 `json:"task_duration_s"`
	// OfferMode and OfferFanout are the in-process master's ("" and 0:
	// its defaults, pessimistic); DecisionTime the frameworks' think time.
	OfferMode    string  `json:"offer_mode,omitempty"`
	OfferFanout  int     `json:"offer_fanout,omitempty"`
	DecisionTime float64 `json:"decision_time_s"`

	// Registration: from the first REGISTER sent to the last REGISTERED
	// received.
	RegistrationTime float64 `json:"registration_time_s"`
	RegistrationRate float64 `json:"registration_agents_per_s"`

	// RunTime runs from the first LAUNCH sent to the last acknowledgement
	// of a terminal update reaching an agent; the rates below divide by
	// the time from the first LAUNCH to their own last event.
	RunTime        float64 `json:"run_time_s"`
	Offers         int64   `json:"offers"`
	OfferRate      float64 `json:"offers_per_s"`
	Launched       int64   `json:"tasks_launched"`
	Running        int64   `json:"tasks_reached_running"`
	ToRunningRate  float64 `json:"to_running_tasks_per_s"`
	FinishedAcked  int64   `json:"tasks_finished_acked"`
	ToFinishedRate float64 `json:"to_finished_acked_tasks_per_s"`
	Failed         int64   `json:"tasks_failed"`
	// Rescinded counts RESCIND events the frameworks got; Conflicts the
	// tasks the master dropped because another framework's ACCEPT of the
	// same resources came first (optimistic offers; launched again).
	Rescinded int64 `json:"offers_rescinded"`
	Conflicts int64 `json:"tasks_dropped_conflicts"`
	// OfferToRunning is a task's scheduling latency: from its framework
	// receiving the offer the task was first placed on to the framework
	// receiving its TASK_RUNNING, in milliseconds; a launch that was lost
	// (offer conflict, offer rescinded while the framework thought,
	// ACCEPT refused) counts towards the task launched again in its place.
	OfferToRunning Latency `json:"offer_to_running_ms"`
	// Utilisation is the share of the cluster's task slots (how many
	// tasks of TaskResources fit into the agents' AgentResources) busy
	// over RunTime, a task busy from its TASK_RUNNING to its terminal
	// update as its framework received them; 0 with a steady phase
	// (the held tasks end with the run).
	Utilisation float64 `json:"utilisation"`

	UpdatesSent    int64 `json:"updates_sent"`
	UpdatesRetried int64 `json:"updates_retried"`
	// RetriesDropped counts retries of updates that were still queued in
	// the simulator, which it does not send twice.
	RetriesDropped  int64 `json:"retries_dropped"`
	UpdatesReceived int64 `json:"updates_received"`
	AcksReceived    int64 `json:"acks_received"`
	UnexpectedAcks  int64 `json:"unexpected_acks"`
	LinkFailures    int64 `json:"link_failures"`
	// CallErrors counts calls (agents' and frameworks') that failed or
	// were refused.
	CallErrors int64 `json:"call_errors"`
	// AgentRequests counts the agents' link requests other than REGISTER
	// (a BATCH carries every call one agent had waiting).
	AgentRequests int64 `json:"agent_requests"`

	// UpdateLatency is from a simulated agent first sending a status
	// update to a simulated framework receiving it, in milliseconds.
	UpdateLatency Latency `json:"update_latency_ms"`
	// QueueWait is how long the agents' calls waited in the simulator for
	// one of its shared senders, in milliseconds: when it grows, the
	// simulator, not the master, bounds the run (see Config.Senders).
	QueueWait Latency `json:"agent_queue_wait_ms"`
	// StateLatency is the time of the state query (Config.StateQuery), sampled every second
	// while tasks run, in milliseconds.
	StateLatency StateLatency `json:"state_latency_ms"`

	// Steady has the figures of the steady phase (Config.LaunchRate);
	// nil without one.
	Steady *Steady `json:"steady,omitempty"`

	Memory *Memory `json:"memory,omitempty"`

	LoadStart [3]float64 `json:"load_average_start"`
	LoadEnd   [3]float64 `json:"load_average_end"`
}

// Latency is a set of percentiles, in milliseconds.
type Latency struct {
	Samples int     `json:"samples"`
	P50     float64 `json:"p50"`
	P90     float64 `json:"p90"`
	P99     float64 `json:"p99"`
	Max     float64 `json:"max"`
}

// Steady is the steady phase of a run (Config.LaunchRate): Report.Tasks
// held running, Tasks more launched at LaunchRate per second.
type Steady struct {
	LaunchRate float64 `json:"launch_rate_tasks_per_s"` // asked for
	Duration   float64 `json:"duration_s"`              // of the launches
	Tasks      int64   `json:"tasks"`                   // to launch in the phase
	Running    int64   `json:"tasks_reached_running"`
	// ToRunningRate is Running over the time from the phase's start
	// (every held task running) to the last steady TASK_RUNNING.
	ToRunningRate float64 `json:"to_running_tasks_per_s"`
	// LaunchLatency is from the framework sending the ACCEPT of a task to
	// it receiving the task's TASK_RUNNING, in milliseconds.
	LaunchLatency Latency `json:"launch_latency_ms"`
	// UpdateLatency is UpdateLatency's of the steady tasks' updates sent
	// in the phase.
	UpdateLatency Latency `json:"update_latency_ms"`
}

// StateLatency summarises the state queries, in milliseconds.
type StateLatency struct {
	Queries int     `json:"queries"`
	Errors  int     `json:"errors"`
	P50     float64 `json:"p50"`
	P99     float64 `json:"p99"`
	Max     float64 `json:"max"`
}

// Memory is the master's memory. In-process, Scope is "master+sim": the
// figures are the whole process's, simulator included.
type Memory struct {
	Scope         string `json:"scope"`
	RSSBytes      int64  `json:"rss_bytes"`
	RSSPeakBytes  int64  `json:"rss_peak_bytes"`
	HeapBytes     int64  `json:"heap_bytes,omitempty"`
	HeapPeakBytes int64  `json:"heap_peak_bytes,omitempty"`
}

// Figure is one line of the table: "name: value unit".
type Figure struct {
	Name  string
	Value float64
	Unit  string // "" for plain counts
}

// LineRegexp matches every line of the table: the figure's name, its
// value (digits with ',' thousands separators and an optional fraction)
// and an optional unit.
var LineRegexp = regexp.MustCompile(`^([^:]+): (-?[0-9][0-9,]*(?:\.[0-9]+)?)(?: (\S+))?$`)

// Figures lists the report's figures in table order.
func (r *Report) Figures() []Figure {
	f := []Figure{
		{"agents", float64(r.Agents), ""},
		{"frameworks", float64(r.Frameworks), ""},
		{"tasks", float64(r.Tasks), ""},
		{"task duration", r.TaskDuration, "s"},
		{"registration", r.RegistrationRate, "agents/s"},
		{"registration time", r.RegistrationTime, "s"},
		{"offers", r.OfferRate, "offers/s"},
		{"offers received", float64(r.Offers), ""},
		{"tasks launched", float64(r.Launched), ""},
		{"to RUNNING", r.ToRunningRate, "tasks/s"},
		{"tasks reached RUNNING", float64(r.Running), ""},
		{"to FINISHED (acked)", r.ToFinishedRate, "tasks/s"},
		{"tasks FINISHED (acked)", float64(r.FinishedAcked), ""},
		{"tasks failed", float64(r.Failed), ""},
		{"decision time", r.DecisionTime, "s"},
		{"offers rescinded", float64(r.Rescinded), ""},
		{"tasks dropped (offer conflicts)", float64(r.Conflicts), ""},
		{"offer to RUNNING p50", r.OfferToRunning.P50, "ms"},
		{"offer to RUNNING p99", r.OfferToRunning.P99, "ms"},
		{"utilisation", 100 * r.Utilisation, "%"},
		{"run time", r.RunTime, "s"},
		{"update latency p50", r.UpdateLatency.P50, "ms"},
		{"update latency p90", r.UpdateLatency.P90, "ms"},
		{"update latency p99", r.UpdateLatency.P99, "ms"},
		{"update latency max", r.UpdateLatency.Max, "ms"},
		{"agent queue wait p50", r.QueueWait.P50, "ms"},
		{"agent queue wait p99", r.QueueWait.P99, "ms"},
		{"agent queue wait max", r.QueueWait.Max, "ms"},
		{"updates sent", float64(r.UpdatesSent), ""},
		{"updates retried", float64(r.UpdatesRetried), ""},
		{"retries dropped (still queued)", float64(r.RetriesDropped), ""},
		{"updates received", float64(r.UpdatesReceived), ""},
		{"acks received", float64(r.AcksReceived), ""},
		{"unexpected acks", float64(r.UnexpectedAcks), ""},
		{"link failures", float64(r.LinkFailures), ""},
		{"call errors", float64(r.CallErrors), ""},
		{"agent requests", float64(r.AgentRequests), ""},
		{"state queries", float64(r.StateLatency.Queries), ""},
		{"state query errors", float64(r.StateLatency.Errors), ""},
		{"state latency p50", r.StateLatency.P50, "ms"},
		{"state latency p99", r.StateLatency.P99, "ms"},
		{"state latency max", r.StateLatency.Max, "ms"},
	}
	if st := r.Steady; st != nil {
		f = append(f,
			Figure{"steady launch rate asked", st.LaunchRate, "tasks/s"},
			Figure{"steady duration", st.Duration, "s"},
			Figure{"steady tasks", float64(st.Tasks), ""},
			Figure{"steady tasks reached RUNNING", float64(st.Running), ""},
			Figure{"steady to RUNNING", st.ToRunningRate, "tasks/s"},
			Figure{"steady launch latency p50", st.LaunchLatency.P50, "ms"},
			Figure{"steady launch latency p90", st.LaunchLatency.P90, "ms"},
			Figure{"steady launch latency p99", st.LaunchLatency.P99, "ms"},
			Figure{"steady launch latency max", st.LaunchLatency.Max, "ms"},
			Figure{"steady update latency p50", st.UpdateLatency.P50, "ms"},
			Figure{"steady update latency p99", st.UpdateLatency.P99, "ms"})
	}
	if m := r.Memory; m != nil {
		f = append(f,
			Figure{m.Scope + " RSS", mib(m.RSSBytes), "MiB"},
			Figure{m.Scope + " RSS peak", mib(m.RSSPeakBytes), "MiB"})
		if m.HeapBytes > 0 {
			f = append(f,
				Figure{m.Scope + " heap", mib(m.HeapBytes), "MiB"},
				Figure{m.Scope + " heap peak", mib(m.HeapPeakBytes), "MiB"})
		}
	}
	return append(f,
		Figure{"load average at start", r.LoadStart[0], ""},
		Figure{"load average at end", r.LoadEnd[0], ""})
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// WriteTable writes one line per figure.
func (r *Report) WriteTable(w io.Writer) error {
	var b strings.Builder
	for _, f := range r.Figures() {
		b.WriteString(f.String())
		b.WriteByte('\n')
	}
	_, err := io.WriteString(w, b.String())
	return err
}

// WriteJSON writes the report as one indented JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// String renders the figure as a table line.
func (f Figure) String() string {
	s := f.Name + ": " + formatNumber(f.Value)
	if f.Unit != "" {
		s += " " + f.Unit
	}
	return s
}

// formatNumber writes v with ',' thousands separators: whole numbers from
// 100 up, one decimal from 10, two below 10 (0 stays "0").
func formatNumber(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		v = 0
	}
	prec := 0
	switch a := math.Abs(v); {
	case a == math.Trunc(a) || a >= 100:
	case a >= 10:
		prec = 1
	default:
		prec = 2
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	sign := ""
	if strings.HasPrefix(s, "-") {
		sign, s = "-", s[1:]
	}
	whole, frac, hasFrac := strings.Cut(s, ".")
	var b strings.Builder
	b.WriteString(sign)
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if hasFrac {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

// ParseTable reads a table written by WriteTable back into figures, keyed
// by name. A line that does not match LineRegexp is an error.
func ParseTable(text string) (map[string]Figure, error) {
	out := map[string]Figure{}
	for i, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		m := LineRegexp.FindStringSubmatch(line)
		if m == nil {
			return nil, fmt.Errorf("%w: line %d: %q", ErrTable, i+1, line)
		}
		v, err := strconv.ParseFloat(strings.ReplaceAll(m[2], ",", ""), 64)
		if err != nil {
			return nil, fmt.Errorf("%w: line %d: %w", ErrTable, i+1, err)
		}
		out[m[1]] = Figure{Name: m[1], Value: v, Unit: m[3]}
	}
	return out, nil
}

// percentile returns the p-th percentile (0 < p <= 100) of sorted by the
// nearest-rank method; 0 for no samples.
func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return sorted[rank-1]
}

// summarize sorts samples and returns their percentiles in milliseconds.
func summarize(samples []time.Duration) Latency {
	slices.Sort(samples)
	l := Latency{Samples: len(samples)}
	if len(samples) == 0 {
		return l
	}
	l.P50 = ms(percentile(samples, 50))
	l.P90 = ms(percentile(samples, 90))
	l.P99 = ms(percentile(samples, 99))
	l.Max = ms(samples[len(samples)-1])
	return l
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// rate is n events over d, 0 when d is not positive.
func rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}
