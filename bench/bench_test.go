package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"os"
	"slices"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m,
		// The embedded server's and client's own background goroutines
		// end shortly after Shutdown/Close, not synchronously.
		goleak.IgnoreTopFunction("github.com/nats-io/nats-server/v2/server.(*Server).Shutdown.func1"),
		goleak.IgnoreAnyFunction("github.com/nats-io/nats-server/v2/server.(*fileStore).syncBlocks"),
		// Idle keep-alive connections of go-openai's default transport.
		goleak.IgnoreTopFunction("net/http.(*persistConn).readLoop"),
		goleak.IgnoreTopFunction("net/http.(*persistConn).writeLoop"),
		goleak.IgnoreTopFunction("internal/poll.runtime_pollWait"),
	)
}

// tiny is a run small enough for `make test`: every scenario, a
// thousand tickets (fewer can drain inside one poll and measure nothing),
// C=10, a second or two each.
func tiny() Config {
	return Config{
		N: 1500, Concurrency: 10,
		ModelLatency: 50 * time.Millisecond, LatencyConcurrency: []int{10}, LatencyWindow: time.Second,
		Rates: []int{100}, LiveFor: time.Second, ReplayEvents: 100,
		Warmup: 200 * time.Millisecond, WarmupShare: 0.05,
		Tickets: os.DirFS("../testdata/tickets"),
	}
}

// TestSmoke runs every scenario at tiny sizes and checks the report's
// shape only: each scenario produced its row and every ratio is a finite
// number. It asserts no timing: a benchmark is a benchmark.
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("runs every scenario on embedded servers")
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cfg := tiny()
	cfg.Progress = testWriter{t}
	r, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	if len(r.Throughput) != 3 {
		t.Errorf("throughput rows = %d, want ceiling, instant and http", len(r.Throughput))
	}
	for name, v := range map[string]*float64{
		"ceiling_per_s": r.CeilingPerS, "instant_per_s": r.InstantPerS, "instant_ratio": r.InstantRatio,
		"http_per_s": r.HTTPPerS, "http_ratio": r.HTTPRatio,
	} {
		if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) || *v <= 0 {
			t.Errorf("%s = %v, want a positive finite number", name, v)
		}
	}
	for _, th := range r.Throughput {
		if th.Scenario != ScenarioCeiling && th.Ready+th.Failed != uint64(th.N) {
			t.Errorf("%s stored %d results for %d tickets", th.Scenario, th.Ready+th.Failed, th.N)
		}
	}
	if len(r.LatencyBound) != 1 || !(r.LatencyBound[0].Share > 0) || math.IsInf(r.LatencyBound[0].Share, 0) {
		t.Errorf("latency_bound = %+v, want one row with a finite share", r.LatencyBound)
	} else if m := r.LatencyBound[0].Mem; !(m.ServerHeapMB > 0 && m.RestHeapMB > 0 && m.StacksMB > 0 && m.Goroutines > 0) {
		t.Errorf("latency_bound mem = %+v, want the heap split and the stacks", m)
	}
	if len(r.Live) != 1 || r.Live[0].P50MS == nil || r.Live[0].Sent == 0 {
		t.Errorf("live = %+v, want one row with a p50", r.Live)
	}
	if r.Replay == nil || r.Replay.Without.Sent == 0 || r.Replay.With.Sent == 0 || r.Replay.ReplayDone == 0 {
		t.Errorf("replay = %+v, want live runs without and with a replay that drafted something", r.Replay)
	}
	if r.GoVersion == "" || r.CPUs < 1 || r.TicketBytes == 0 {
		t.Errorf("report context missing: go %q, cpus %d, ticket bytes %d", r.GoVersion, r.CPUs, r.TicketBytes)
	}

	var table, doc bytes.Buffer
	if err := r.WriteTable(&table); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"ceiling", "rules model", "go-openai", "latency-bound", "live", "replay"} {
		if !bytes.Contains(table.Bytes(), []byte(want)) {
			t.Errorf("table has no %q row:\n%s", want, table.String())
		}
	}
	if err := r.WriteJSON(&doc); err != nil {
		t.Fatal(err)
	}
	var fields map[string]any
	if err := json.Unmarshal(doc.Bytes(), &fields); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"ceiling_per_s", "instant_per_s", "instant_ratio", "http_per_s", "http_ratio",
		"latency_bound", "live", "go_version", "commit", "cpus"} {
		if _, ok := fields[k]; !ok {
			t.Errorf("JSON has no %q", k)
		}
	}
}

// TestBacklogSmoke runs the opt-in memory scenario at a tiny size.
func TestBacklogSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("runs an embedded server")
	}
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	cfg := tiny()
	cfg.Scenarios, cfg.BacklogN = []string{ScenarioBacklog}, 3000
	r, err := Run(ctx, cfg)
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	b := r.Backlog
	if b == nil || b.Samples == 0 || b.Drained == 0 || !(b.MaxMB >= b.FirstMB) || b.LoadedMB <= 0 {
		t.Errorf("backlog = %+v, want samples of a drain", b)
	}
	if b != nil && (len(b.Series) == 0 || !(b.Series[0].BrokerHeapMB > 0 && b.Series[0].WorkerHeapMB > 0)) {
		t.Errorf("backlog series = %+v, want quiesced heap samples", b.Series)
	}
	if len(r.Throughput)+len(r.Live)+len(r.LatencyBound) != 0 || r.Replay != nil {
		t.Error("scenarios ran that were not named")
	}
}

func TestConfigValidate(t *testing.T) {
	for name, c := range map[string]func(*Config){
		"no tickets":       func(c *Config) { c.N = 0 },
		"no concurrency":   func(c *Config) { c.Concurrency = 0 },
		"unknown scenario": func(c *Config) { c.Scenarios = []string{"nope"} },
		"zero rate":        func(c *Config) { c.Rates = []int{0} },
		"warm-up share 1":  func(c *Config) { c.WarmupShare = 1 },
		"empty backlog":    func(c *Config) { c.Scenarios, c.BacklogN = []string{ScenarioBacklog}, 0 },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := tiny()
			c(&cfg)
			if cfg.Validate() == nil {
				t.Error("Validate accepted it")
			}
		})
	}
	if err := tiny().Validate(); err != nil {
		t.Errorf("tiny: %v", err)
	}
	if (Config{}).runs(ScenarioBacklog) {
		t.Error("the backlog scenario runs by default; it should run only when named")
	}
}

func TestPercentiles(t *testing.T) {
	samples := []float64{5, 1, 4, 2, 3, math.Inf(1)}
	got := percentiles(slices.Clone(samples), 0.5, 0.8, 1)
	if got[0] != 3 || got[1] != 5 || !math.IsInf(got[2], 1) {
		t.Errorf("percentiles = %v, want [3 5 +Inf]: an unanswered ticket is never hidden", got)
	}
	if got := percentiles(nil, 0.5); !math.IsNaN(got[0]) {
		t.Errorf("percentiles of nothing = %v, want NaN", got)
	}
}

func TestTraceparentRoundTrip(t *testing.T) {
	const tag = 0x1234
	for _, i := range []int{0, 1, 99_999} {
		if got, ok := traceIndexOf(tag, traceparent(tag, i)); !ok || got != i {
			t.Errorf("traceIndexOf(traceparent(%d)) = %d, %v", i, got, ok)
		}
		if _, ok := traceIndexOf(tag+1, traceparent(tag, i)); ok {
			t.Errorf("another run's tag matched ticket %d", i)
		}
	}
}

// The benchmarks drain b.N pre-loaded tickets each, so ns/op is the time
// per ticket and benchstat can compare two commits:
//
//	go test ./bench -run '^$' -bench . -count 6 > old.txt   # on the old commit
//	go test ./bench -run '^$' -bench . -count 6 > new.txt   # on the new one
//	benchstat old.txt new.txt
//
// Each also reports CPU µs per ticket (process-wide, server included).
func benchThroughput(b *testing.B, run func(context.Context, Config, corpus, int, func()) (Throughput, error)) {
	c, err := loadCorpus(os.DirFS("../testdata/tickets"))
	if err != nil {
		b.Fatal(err)
	}
	cfg := DefaultConfig()
	cfg.WarmupShare = 0
	b.StopTimer()
	th, err := run(b.Context(), cfg, c, max(b.N, 100), func() { b.StartTimer() })
	b.StopTimer()
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(th.PerS, "msgs/s")
	b.ReportMetric(th.CPUMicros, "cpu-µs/msg")
}

func BenchmarkCeiling(b *testing.B)         { benchThroughput(b, runCeiling) }
func BenchmarkPipelineInstant(b *testing.B) { benchThroughput(b, runInstant) }
func BenchmarkPipelineHTTP(b *testing.B)    { benchThroughput(b, runHTTP) }

// testWriter sends progress lines to the test log, with their time.
type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(bytes.TrimSpace(p)))
	return len(p), nil
}

func BenchmarkLatencyBound2000(b *testing.B) {
	c, err := loadCorpus(os.DirFS("../testdata/tickets"))
	if err != nil {
		b.Fatal(err)
	}
	cfg := QuickConfig()
	for b.Loop() {
		lb, err := runLatencyBound(b.Context(), cfg, c, 2000)
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(lb.Share, "share")
	}
}
