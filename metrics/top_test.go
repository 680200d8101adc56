package metrics_test

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/expfmt"

	"github.com/ghostwriter-ai/ghostwriter/metrics"
)

func scrape(t *testing.T, reg *prometheus.Registry, at time.Time) metrics.Sample {
	t.Helper()
	fams, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	for _, f := range fams {
		if _, err := expfmt.MetricFamilyToText(&buf, f); err != nil {
			t.Fatal(err)
		}
	}
	s, err := metrics.ParseSample(&buf, at)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestDiffAndRender(t *testing.T) {
	reg := prometheus.NewRegistry()
	m := metrics.New(reg)
	t0 := time.Unix(1000, 0)
	m.Task("support_draft", "draft_ready", "", 100*time.Millisecond) // before the first sample
	before := scrape(t, reg, t0)

	for range 90 {
		m.Task("support_draft", "draft_ready", "", 150*time.Millisecond)
	}
	for range 10 {
		m.Task("support_draft", "draft_failed", "timeout", 20*time.Second)
	}
	m.ModelCall("support_draft", "gpt-4o-mini", "ok", time.Second, 1000, 200, 1_500_000) // $1.50
	m.CircuitState("openai", metrics.CircuitOpen)
	after := scrape(t, reg, t0.Add(10*time.Second))

	v := metrics.Diff(before, after)
	if v.TasksPerSec != 10 || v.ByOutcome["draft_ready"] != 90 || v.Failures["timeout"] != 10 {
		t.Errorf("rate %v outcomes %v failures %v; want 10/s, 90 ready, 10 timeouts", v.TasksPerSec, v.ByOutcome, v.Failures)
	}
	// 90 of 100 fell in (0.1, 0.25]: the median is inside it, the p99 in (10, 20].
	if v.P50 <= 100*time.Millisecond || v.P50 > 250*time.Millisecond || v.P99 <= 10*time.Second || v.P99 > 20*time.Second {
		t.Errorf("p50 %v p99 %v", v.P50, v.P99)
	}
	if got := v.CostPerMin["gpt-4o-mini"]; got < 8.99 || got > 9.01 { // $1.50 in 10 s
		t.Errorf("cost per minute %v, want 9", got)
	}
	var out strings.Builder
	metrics.Render(&out, v, t0)
	for _, want := range []string{"throughput", "10.0 tasks/s", "timeout=10", "gpt-4o-mini", "openai=OPEN"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("view lacks %q:\n%s", want, out.String())
		}
	}
}
