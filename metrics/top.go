package metrics

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Sample is one scrape of a ghostwriter /metrics endpoint, kept as the
// figures `ghostwriter top` needs.
type Sample struct {
	At time.Time
	// Tasks by outcome and by error code (failures only).
	Tasks    map[string]float64
	Failures map[string]float64
	// Duration buckets of decided tasks: upper bound → cumulative count.
	Buckets map[float64]float64
	// CostUSD and Calls by model.
	CostUSD map[string]float64
	Calls   map[string]float64
	// Pending and AckPending by consumer; Circuit state by provider.
	Pending    map[string]float64
	AckPending map[string]float64
	Circuit    map[string]float64
	InFlight   float64
}

// ParseSample reads a text-format scrape.
func ParseSample(r io.Reader, at time.Time) (Sample, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return Sample{}, fmt.Errorf("metrics.parse: %w", err)
	}
	s := Sample{At: at, Tasks: map[string]float64{}, Failures: map[string]float64{}, Buckets: map[float64]float64{},
		CostUSD: map[string]float64{}, Calls: map[string]float64{}, Pending: map[string]float64{},
		AckPending: map[string]float64{}, Circuit: map[string]float64{}}
	each := func(name string, f func(m *dto.Metric, l map[string]string)) {
		if fam, ok := fams[name]; ok {
			for _, m := range fam.Metric {
				labels := map[string]string{}
				for _, lp := range m.Label {
					labels[lp.GetName()] = lp.GetValue()
				}
				f(m, labels)
			}
		}
	}
	each("ghostwriter_tasks_total", func(m *dto.Metric, l map[string]string) {
		s.Tasks[l["outcome"]] += m.GetCounter().GetValue()
		if l["error_code"] != "" {
			s.Failures[l["error_code"]] += m.GetCounter().GetValue()
		}
	})
	each("ghostwriter_task_duration_seconds", func(m *dto.Metric, _ map[string]string) {
		for _, b := range m.GetHistogram().GetBucket() {
			s.Buckets[b.GetUpperBound()] += float64(b.GetCumulativeCount())
		}
	})
	each("ghostwriter_model_cost_usd_total", func(m *dto.Metric, l map[string]string) { s.CostUSD[l["model"]] += m.GetCounter().GetValue() })
	each("ghostwriter_model_call_duration_seconds", func(m *dto.Metric, l map[string]string) {
		s.Calls[l["model"]] += float64(m.GetHistogram().GetSampleCount())
	})
	each("ghostwriter_consumer_pending_messages", func(m *dto.Metric, l map[string]string) { s.Pending[l["consumer"]] = m.GetGauge().GetValue() })
	each("ghostwriter_consumer_ack_pending_messages", func(m *dto.Metric, l map[string]string) {
		s.AckPending[l["consumer"]] = m.GetGauge().GetValue()
	})
	each("ghostwriter_circuit_state", func(m *dto.Metric, l map[string]string) { s.Circuit[l["provider"]] = m.GetGauge().GetValue() })
	each("ghostwriter_tasks_in_flight", func(m *dto.Metric, _ map[string]string) { s.InFlight = m.GetGauge().GetValue() })
	return s, nil
}

// View is what changed between two samples, per second or minute.
type View struct {
	Interval      time.Duration
	TasksPerSec   float64
	ByOutcome     map[string]float64 // in the interval
	Failures      map[string]float64 // in the interval, by error code
	P50, P95, P99 time.Duration      // of tasks decided in the interval
	CostPerMin    map[string]float64 // US dollars a minute, by model
	CallsPerSec   map[string]float64
	Pending       map[string]float64
	PendingTrend  map[string]float64 // change a minute
	AckPending    map[string]float64
	Circuit       map[string]float64
	InFlight      float64
}

// Diff computes the view from prev to cur; counters that went down (a
// restart) count from zero.
func Diff(prev, cur Sample) View {
	dt := cur.At.Sub(prev.At)
	secs := math.Max(dt.Seconds(), 1e-9)
	delta := func(a, b float64) float64 {
		if b < a {
			return b
		}
		return b - a
	}
	v := View{Interval: dt, ByOutcome: map[string]float64{}, Failures: map[string]float64{}, CostPerMin: map[string]float64{},
		CallsPerSec: map[string]float64{}, Pending: cur.Pending, PendingTrend: map[string]float64{},
		AckPending: cur.AckPending, Circuit: cur.Circuit, InFlight: cur.InFlight}
	total := 0.0
	for k, c := range cur.Tasks {
		d := delta(prev.Tasks[k], c)
		v.ByOutcome[k] = d
		total += d
	}
	v.TasksPerSec = total / secs
	for k, c := range cur.Failures {
		if d := delta(prev.Failures[k], c); d > 0 {
			v.Failures[k] = d
		}
	}
	for k, c := range cur.CostUSD {
		v.CostPerMin[k] = delta(prev.CostUSD[k], c) / secs * 60
	}
	for k, c := range cur.Calls {
		v.CallsPerSec[k] = delta(prev.Calls[k], c) / secs
	}
	for k, c := range cur.Pending {
		v.PendingTrend[k] = (c - prev.Pending[k]) / secs * 60
	}
	buckets := map[float64]float64{}
	for ub, c := range cur.Buckets {
		buckets[ub] = delta(prev.Buckets[ub], c)
	}
	v.P50, v.P95, v.P99 = quantile(buckets, .5), quantile(buckets, .95), quantile(buckets, .99)
	return v
}

// quantile estimates q from cumulative histogram buckets by linear
// interpolation inside the bucket that holds it, as PromQL's
// histogram_quantile does.
func quantile(cumulative map[float64]float64, q float64) time.Duration {
	bounds := make([]float64, 0, len(cumulative))
	for ub := range cumulative {
		bounds = append(bounds, ub)
	}
	sort.Float64s(bounds)
	if len(bounds) == 0 {
		return 0
	}
	total := cumulative[bounds[len(bounds)-1]]
	if total == 0 {
		return 0
	}
	rank := q * total
	lower, below := 0.0, 0.0
	for _, ub := range bounds {
		c := cumulative[ub]
		if c >= rank {
			if math.IsInf(ub, 1) {
				return time.Duration(lower * float64(time.Second))
			}
			frac := 0.0
			if c > below {
				frac = (rank - below) / (c - below)
			}
			return time.Duration((lower + (ub-lower)*frac) * float64(time.Second))
		}
		lower, below = ub, c
	}
	return time.Duration(lower * float64(time.Second))
}

// Render writes the view as a plain-text dashboard.
func Render(w io.Writer, v View, now time.Time) {
	var b strings.Builder
	fmt.Fprintf(&b, "ghostwriter top   %s   (every %s)\n\n", now.Format("15:04:05"), v.Interval.Round(time.Second))
	fmt.Fprintf(&b, "throughput   %7.1f tasks/s   in flight %.0f\n", v.TasksPerSec, v.InFlight)
	fmt.Fprintf(&b, "latency      p50 %-8s p95 %-8s p99 %s\n", short(v.P50), short(v.P95), short(v.P99))
	fmt.Fprintf(&b, "outcomes     %s\n", pairs(v.ByOutcome, "%.0f"))
	fmt.Fprintf(&b, "failures     %s\n", pairs(v.Failures, "%.0f"))
	b.WriteString("\nmodel                        calls/s    $/min\n")
	for _, m := range sortedKeys(v.CostPerMin, v.CallsPerSec) {
		fmt.Fprintf(&b, "%-28s %7.2f  %7.4f\n", m, v.CallsPerSec[m], v.CostPerMin[m])
	}
	b.WriteString("\nconsumer                     pending   trend/min   ack-pending\n")
	for _, c := range sortedKeys(v.Pending) {
		fmt.Fprintf(&b, "%-28s %7.0f   %+9.0f   %11.0f\n", c, v.Pending[c], v.PendingTrend[c], v.AckPending[c])
	}
	if len(v.Circuit) > 0 {
		b.WriteString("\ncircuits     ")
		states := map[float64]string{CircuitClosed: "closed", CircuitHalfOpen: "half-open", CircuitOpen: "OPEN"}
		for _, p := range sortedKeys(v.Circuit) {
			fmt.Fprintf(&b, "%s=%s  ", p, states[v.Circuit[p]])
		}
		b.WriteString("\n")
	}
	_, _ = io.WriteString(w, b.String())
}

func short(d time.Duration) string {
	if d >= time.Second {
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(100 * time.Microsecond).String()
}

func pairs(m map[string]float64, format string) string {
	if len(m) == 0 {
		return "-"
	}
	parts := make([]string, 0, len(m))
	for _, k := range sortedKeys(m) {
		parts = append(parts, k+"="+fmt.Sprintf(format, m[k]))
	}
	return strings.Join(parts, "  ")
}

func sortedKeys(ms ...map[string]float64) []string {
	seen := map[string]bool{}
	for _, m := range ms {
		for k := range m {
			seen[k] = true
		}
	}
	keys := make([]string, 0, len(seen))
	for k := range seen {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
