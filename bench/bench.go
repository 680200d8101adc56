// Package bench measures ghostwriter's throughput, latency and memory
// against the broker's own ceiling, measured in the same run: `ghostwriter
// bench` and `make bench`. It owns the scenarios, the measurements and the
// report. Every scenario runs on a fresh embedded JetStream server with
// file storage in a temporary folder, in this process, and drives the real
// worker (consumers.Apply and consumers.Worker with a real pipeline); the
// bench only publishes tickets, asks the broker how far the consumer got,
// and reads the clock, getrusage and /proc. It must not change how the
// worker behaves, and it asserts nothing: a figure is what was measured.
package bench

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"runtime"
	"runtime/debug"
	"slices"
	"time"
)

// Config says what to run and how big. DefaultConfig is the issue's
// sizes; QuickConfig a smaller run for a quick look.
type Config struct {
	// N is how many pre-loaded tickets the throughput scenarios (ceiling,
	// instant, http) drain.
	N int
	// Concurrency is the worker's (and the bare loop's) concurrency in
	// every scenario but the latency-bound one.
	Concurrency int
	// ModelLatency is L, the model's time per call in the latency-bound
	// scenario, and LatencyConcurrency its values of C, run in increasing
	// order, each measured over LatencyWindow after Warmup.
	ModelLatency       time.Duration
	LatencyConcurrency []int
	LatencyWindow      time.Duration
	// Rates are the live producer's tickets per second, each run for
	// LiveFor after Warmup. The replay scenario runs at the first rate.
	Rates   []int
	LiveFor time.Duration
	// ReplayEvents is the size of the replay in the interference scenario.
	ReplayEvents int
	// BacklogN is the backlog of the opt-in memory scenario, drained for
	// LiveFor after Warmup.
	BacklogN int
	// Warmup is left out of the latency-bound and live measurements;
	// WarmupShare is the share of N the throughput scenarios ack before
	// their measured span starts.
	Warmup      time.Duration
	WarmupShare float64
	// Scenarios to run, by name (ScenarioCeiling...); empty runs
	// AllScenarios. The pipeline ratios need the ceiling in the same run;
	// ScenarioBacklog runs only when named.
	Scenarios []string
	// Tickets holds the ticket.created data files (testdata/tickets).
	Tickets fs.FS
	// Progress hears a line as each scenario starts and ends; nil is quiet.
	Progress io.Writer
	// Commit names the code measured; empty means the VCS revision the
	// binary was built with, if it was stamped with one.
	Commit string
	// HeapProfile, when set, is called where the bench splits the heap,
	// right after its two collections (the end of each latency-bound
	// window, each quiesced sample of the backlog scenario), with a name
	// for the moment, such as "latency-c2000" or "backlog-030s": a heap
	// profile written then (ghostwriter bench --memprofile) shows what is
	// live, not garbage.
	HeapProfile func(name string)
}

// AllScenarios lists the scenarios a run has by default, in the order
// they run; KnownScenarios adds those that run only when named.
var (
	AllScenarios   = []string{ScenarioCeiling, ScenarioInstant, ScenarioHTTP, ScenarioLatency, ScenarioLive, ScenarioReplay}
	KnownScenarios = append(slices.Clone(AllScenarios), ScenarioBacklog)
)

// DefaultConfig returns the sizes the issue names.
func DefaultConfig() Config {
	return Config{
		N: 200_000, Concurrency: 64,
		ModelLatency: 200 * time.Millisecond, LatencyConcurrency: []int{100, 1000, 2000}, LatencyWindow: 5 * time.Second,
		Rates: []int{1000, 5000}, LiveFor: 20 * time.Second,
		ReplayEvents: 10_000, BacklogN: 1_000_000,
		Warmup: 2 * time.Second, WarmupShare: 0.05,
	}
}

// QuickConfig returns every scenario at a fraction of the default sizes:
// a look in about a minute, not figures to quote.
func QuickConfig() Config {
	c := DefaultConfig()
	c.N = 20_000
	c.LatencyWindow = 2 * time.Second
	c.LiveFor = 5 * time.Second
	c.ReplayEvents = 2_000
	c.Warmup = time.Second
	return c
}

// Validate reports what no run could measure.
func (c Config) Validate() error {
	var errs []error
	if c.N < 1 {
		errs = append(errs, errors.New("N must be at least 1"))
	}
	if c.Concurrency < 1 {
		errs = append(errs, errors.New("concurrency must be at least 1"))
	}
	if c.ModelLatency <= 0 || c.LatencyWindow <= 0 || c.LiveFor <= 0 {
		errs = append(errs, errors.New("latency, window and live duration must be positive"))
	}
	if c.Warmup < 0 || c.WarmupShare < 0 || c.WarmupShare >= 1 {
		errs = append(errs, errors.New("warm-up must be non-negative and its share under 1"))
	}
	for _, n := range c.LatencyConcurrency {
		if n < 1 {
			errs = append(errs, fmt.Errorf("latency-bound concurrency %d: must be at least 1", n))
		}
	}
	for _, r := range c.Rates {
		if r < 1 {
			errs = append(errs, fmt.Errorf("rate %d: must be at least 1 a second", r))
		}
	}
	if c.ReplayEvents < 1 && c.runs(ScenarioReplay) {
		errs = append(errs, errors.New("replay events must be at least 1"))
	}
	if c.BacklogN < 1 && c.runs(ScenarioBacklog) {
		errs = append(errs, errors.New("backlog must be at least 1 ticket"))
	}
	for _, s := range c.Scenarios {
		if !slices.Contains(KnownScenarios, s) {
			errs = append(errs, fmt.Errorf("unknown scenario %q; want some of %v", s, KnownScenarios))
		}
	}
	if c.Tickets == nil {
		errs = append(errs, errors.New("no tickets folder"))
	}
	return errors.Join(errs...)
}

func (c Config) runs(name string) bool {
	if len(c.Scenarios) == 0 {
		return slices.Contains(AllScenarios, name)
	}
	return slices.Contains(c.Scenarios, name)
}

func (c Config) progress(format string, args ...any) {
	if c.Progress != nil {
		fmt.Fprintf(c.Progress, "bench: "+format+"\n", args...)
	}
}

// Report is every figure of one run. The first fields are the JSON object
// the issue names; nil ratios mean the ceiling did not run.
type Report struct {
	CeilingPerS  *float64       `json:"ceiling_per_s"`
	InstantPerS  *float64       `json:"instant_per_s"`
	InstantRatio *float64       `json:"instant_ratio"`
	HTTPPerS     *float64       `json:"http_per_s"`
	HTTPRatio    *float64       `json:"http_ratio"`
	LatencyBound []LatencyBound `json:"latency_bound"`
	Live         []Live         `json:"live"`
	Replay       *Replay        `json:"replay"`
	Backlog      *Backlog       `json:"backlog,omitempty"`
	GoVersion    string         `json:"go_version"`
	Commit       string         `json:"commit"`
	CPUs         int            `json:"cpus"`

	// Throughput has the details of the ceiling, instant and http rows.
	Throughput []Throughput `json:"throughput"`
	Started    time.Time    `json:"started"`
	Seconds    float64      `json:"seconds"`
	// LoadStart and LoadEnd are the machine's load averages (1, 5, 15
	// minutes) when the run started and ended: figures from a busy
	// machine are lower, ratios less so.
	LoadStart [3]float64 `json:"load_avg_start"`
	LoadEnd   [3]float64 `json:"load_avg_end"`
	OS        string     `json:"os"`
	// Tickets is how many saved tickets the bench cycles through, and
	// TicketBytes their mean envelope size.
	Tickets     int      `json:"tickets"`
	TicketBytes int      `json:"ticket_bytes"`
	Config      Sizes    `json:"config"`
	Failures    []string `json:"failures,omitempty"`
}

// Sizes is the part of Config a report repeats.
type Sizes struct {
	N                  int      `json:"n"`
	Concurrency        int      `json:"concurrency"`
	ModelLatencyMS     float64  `json:"model_latency_ms"`
	LatencyConcurrency []int    `json:"latency_concurrency"`
	LatencyWindowS     float64  `json:"latency_window_s"`
	Rates              []int    `json:"rates"`
	LiveForS           float64  `json:"live_for_s"`
	ReplayEvents       int      `json:"replay_events"`
	BacklogN           int      `json:"backlog_n,omitempty"`
	WarmupS            float64  `json:"warmup_s"`
	WarmupShare        float64  `json:"warmup_share"`
	Scenarios          []string `json:"scenarios"`
}

// Run runs the chosen scenarios one after the other and returns what they
// measured. A scenario that fails leaves no figure, only a line in
// Failures, and the others still run; the error then joins the failures.
// Run ends early only when ctx does.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	c, err := loadCorpus(cfg.Tickets)
	if err != nil {
		return nil, err
	}
	scenarios := cfg.Scenarios
	if len(scenarios) == 0 {
		scenarios = AllScenarios
	}
	r := &Report{
		GoVersion: runtime.Version(), Commit: cmp.Or(cfg.Commit, commit()), CPUs: runtime.NumCPU(),
		OS: runtime.GOOS + "/" + runtime.GOARCH, Started: time.Now().UTC().Truncate(time.Second),
		LoadStart: loadAverage(), Tickets: len(c.tickets), TicketBytes: c.meanBytes,
		LatencyBound: []LatencyBound{}, Live: []Live{}, Throughput: []Throughput{},
		Config: Sizes{N: cfg.N, Concurrency: cfg.Concurrency, ModelLatencyMS: ms(cfg.ModelLatency),
			LatencyConcurrency: slices.Sorted(slices.Values(cfg.LatencyConcurrency)), LatencyWindowS: cfg.LatencyWindow.Seconds(),
			Rates: cfg.Rates, LiveForS: cfg.LiveFor.Seconds(), ReplayEvents: cfg.ReplayEvents,
			WarmupS: cfg.Warmup.Seconds(), WarmupShare: cfg.WarmupShare, Scenarios: scenarios},
	}
	start := time.Now()
	var errs []error
	fail := func(what string, err error) {
		cfg.progress("%s failed: %v", what, err)
		r.Failures = append(r.Failures, what+": "+err.Error())
		errs = append(errs, fmt.Errorf("%s: %w", what, err))
	}
	throughput := func(name string, run func(context.Context, Config, corpus, int, func()) (Throughput, error)) *Throughput {
		if !cfg.runs(name) || ctx.Err() != nil {
			return nil
		}
		cfg.progress("%s: %d tickets, concurrency %d", name, cfg.N, cfg.Concurrency)
		th, err := run(ctx, cfg, c, cfg.N, nil)
		if err != nil {
			fail(name, err)
			return nil
		}
		cfg.progress("%s: %.0f/s, %.0f µs CPU each", name, th.PerS, th.CPUMicros)
		r.Throughput = append(r.Throughput, th)
		return &th
	}
	ceiling := throughput(ScenarioCeiling, runCeiling)
	if ceiling != nil {
		r.CeilingPerS = &ceiling.PerS
	}
	for _, p := range []struct {
		name       string
		run        func(context.Context, Config, corpus, int, func()) (Throughput, error)
		rate, frac **float64
	}{
		{ScenarioInstant, runInstant, &r.InstantPerS, &r.InstantRatio},
		{ScenarioHTTP, runHTTP, &r.HTTPPerS, &r.HTTPRatio},
	} {
		th := throughput(p.name, p.run)
		if th == nil {
			continue
		}
		*p.rate = &th.PerS
		if ceiling != nil && ceiling.PerS > 0 {
			ratio := th.PerS / ceiling.PerS
			*p.frac = &ratio
		}
	}
	if cfg.runs(ScenarioLatency) {
		for _, conc := range r.Config.LatencyConcurrency {
			if ctx.Err() != nil {
				break
			}
			cfg.progress("latency-bound: L=%v, C=%d", cfg.ModelLatency, conc)
			row, err := runLatencyBound(ctx, cfg, c, conc)
			if err != nil {
				fail(fmt.Sprintf("latency-bound C=%d", conc), err)
				continue
			}
			cfg.progress("latency-bound C=%d: %.0f/s, %.0f%% of C/L, peak RSS %.0f MB", conc, row.PerS, 100*row.Share, row.RSSMB)
			r.LatencyBound = append(r.LatencyBound, row)
		}
	}
	if cfg.runs(ScenarioLive) {
		for _, rate := range cfg.Rates {
			if ctx.Err() != nil {
				break
			}
			cfg.progress("live: %d tickets/s for %v after %v warm-up", rate, cfg.LiveFor, cfg.Warmup)
			row, err := runLive(ctx, cfg, c, rate)
			if err != nil {
				fail(fmt.Sprintf("live %d/s", rate), err)
				continue
			}
			cfg.progress("live %d/s: p50 %s p99 %s p999 %s ms, %d unanswered", rate, msText(row.P50MS), msText(row.P99MS), msText(row.P999MS), row.Unanswered)
			r.Live = append(r.Live, row)
		}
	}
	if cfg.runs(ScenarioReplay) && len(cfg.Rates) > 0 && ctx.Err() == nil {
		rate := cfg.Rates[0]
		cfg.progress("replay interference: %d tickets/s, a %d-event replay", rate, cfg.ReplayEvents)
		row, err := runReplay(ctx, cfg, c, rate)
		if err != nil {
			fail("replay", err)
		} else {
			cfg.progress("replay: live p99 %s ms without, %s ms while replaying", msText(row.Without.P99MS), msText(row.DuringP99MS))
			r.Replay = &row
		}
	}
	if cfg.runs(ScenarioBacklog) && ctx.Err() == nil {
		r.Config.BacklogN = cfg.BacklogN
		cfg.progress("backlog: %d tickets pre-loaded, drained for %v", cfg.BacklogN, cfg.LiveFor)
		row, err := runBacklog(ctx, cfg, c, cfg.BacklogN)
		if err != nil {
			fail("backlog", err)
		} else {
			cfg.progress("backlog: RSS %.0f MB loaded, %.0f to %.0f MB (max %.0f) while draining", row.LoadedMB, row.FirstMB, row.LastMB, row.MaxMB)
			r.Backlog = &row
		}
	}
	r.Seconds = time.Since(start).Seconds()
	r.LoadEnd = loadAverage()
	if err := ctx.Err(); err != nil {
		errs = append(errs, err)
	}
	return r, errors.Join(errs...)
}

// commit is the VCS revision the binary was built from, "-dirty" when
// the tree had changes, or "unknown" (go test, go run).
func commit() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	rev, dirty := "", false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev == "" {
		return "unknown"
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	if dirty {
		rev += "-dirty"
	}
	return rev
}

// heapProfile calls HeapProfile, if set.
func (c Config) heapProfile(format string, args ...any) {
	if c.HeapProfile != nil {
		c.HeapProfile(fmt.Sprintf(format, args...))
	}
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
