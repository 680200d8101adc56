package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/bench"
)

func runBench(ctx context.Context, args []string, env *environ) error {
	c := newCommand("bench", "", "Measure throughput, latency and memory on an embedded JetStream server, against\n"+
		"the broker's own ceiling measured in the same run. Prints a table on stdout;\n"+
		"--json-out also writes the figures as JSON. Scenarios: "+strings.Join(bench.AllScenarios, ", ")+";\n"+
		"backlog (memory over --backlog-n stored tickets) runs only when named.", env.stderr)
	def := bench.DefaultConfig()
	n := c.flags.Int("n", def.N, "pre-loaded tickets the throughput scenarios (ceiling, instant, http) drain")
	conc := c.flags.Int("concurrency", def.Concurrency, "worker concurrency (and the bare loop's) outside the latency-bound scenario")
	latency := c.flags.Duration("latency", def.ModelLatency, "model latency L of the latency-bound scenario")
	latencyConc := c.flags.String("latency-concurrency", joinInts(def.LatencyConcurrency), "comma-separated concurrencies C of the latency-bound scenario")
	window := c.flags.Duration("latency-window", def.LatencyWindow, "how long each latency-bound run is measured")
	rates := c.flags.String("rates", joinInts(def.Rates), "comma-separated rates (tickets/s) of the live producer; replay uses the first")
	liveFor := c.flags.Duration("live-for", def.LiveFor, "how long each live run is measured")
	replayEvents := c.flags.Int("replay-events", def.ReplayEvents, "events in the replay-interference scenario")
	backlogN := c.flags.Int("backlog-n", def.BacklogN, "tickets stored for the backlog scenario (only with --scenarios backlog)")
	warmup := c.flags.Duration("warmup", def.Warmup, "left out of the latency-bound and live measurements")
	warmupShare := c.flags.Float64("warmup-share", def.WarmupShare, "share of --n the throughput scenarios ack before measuring")
	scenarios := c.flags.String("scenarios", "", "comma-separated scenarios to run (default "+strings.Join(bench.AllScenarios, ",")+"; also backlog)")
	quick := c.flags.Bool("quick", false, "smaller sizes for a quick look (flags given explicitly still win)")
	jsonOut := c.flags.String("json-out", "", "also write the figures as one JSON object to this file")
	ticketsDir := c.flags.String("tickets-dir", "testdata/tickets", "folder of ticket.created data files to publish, in turn")
	cpuProfile := c.flags.String("cpuprofile", "", "write a CPU profile of the whole run (worker, embedded server and bench) to this file, for go tool pprof")
	memProfile := c.flags.String("memprofile", "", "write heap profiles of what is live to PREFIX-NAME.pprof: at the end of each latency-bound window, and at each quiesced sample of the backlog scenario (compare with go tool pprof -base)")
	commit := c.flags.String("commit", "", "the commit measured, for the report (default: the revision the binary was built from, if stamped)")
	if err := c.parse(args, env.getenv); err != nil {
		return err
	}
	if c.flags.NArg() > 0 {
		return usagef("bench takes no arguments, got %q", c.flags.Args())
	}

	cfg := def
	if *quick {
		cfg = bench.QuickConfig()
	}
	set := func(name string, apply func() error) error {
		if !c.explicit[name] {
			return nil
		}
		if err := apply(); err != nil {
			return usagef("--%s: %v", name, err)
		}
		return nil
	}
	err := errors.Join(
		set("n", func() error { cfg.N = *n; return nil }),
		set("concurrency", func() error { cfg.Concurrency = *conc; return nil }),
		set("latency", func() error { cfg.ModelLatency = *latency; return nil }),
		set("latency-concurrency", func() (err error) { cfg.LatencyConcurrency, err = parseInts(*latencyConc); return err }),
		set("latency-window", func() error { cfg.LatencyWindow = *window; return nil }),
		set("rates", func() (err error) { cfg.Rates, err = parseInts(*rates); return err }),
		set("live-for", func() error { cfg.LiveFor = *liveFor; return nil }),
		set("replay-events", func() error { cfg.ReplayEvents = *replayEvents; return nil }),
		set("backlog-n", func() error { cfg.BacklogN = *backlogN; return nil }),
		set("warmup", func() error { cfg.Warmup = *warmup; return nil }),
		set("warmup-share", func() error { cfg.WarmupShare = *warmupShare; return nil }),
		set("scenarios", func() error { cfg.Scenarios = splitList(*scenarios); return nil }),
	)
	if err != nil {
		return err
	}
	if st, err := os.Stat(*ticketsDir); err != nil || !st.IsDir() {
		return usagef("--tickets-dir %s: not a folder (run from the repository root, or point it at the saved tickets)", *ticketsDir)
	}
	cfg.Tickets = os.DirFS(*ticketsDir)
	cfg.Progress = env.stderr
	cfg.Commit = *commit
	if *memProfile != "" {
		cfg.HeapProfile = func(name string) { writeHeapProfile(*memProfile+"-"+name+".pprof", env) }
	}
	if err := cfg.Validate(); err != nil {
		return usageError{err}
	}

	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	start := time.Now()
	report, runErr := bench.Run(ctx, cfg)
	if report == nil {
		return runErr
	}
	if err := report.WriteTable(env.stdout); err != nil {
		return err
	}
	if *jsonOut != "" {
		var buf bytes.Buffer
		if err := report.WriteJSON(&buf); err != nil {
			return err
		}
		if err := os.WriteFile(*jsonOut, buf.Bytes(), 0o644); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		fmt.Fprintf(env.stderr, "bench: figures written to %s (%s)\n", *jsonOut, time.Since(start).Round(time.Second))
	}
	return runErr
}

// writeHeapProfile writes a heap profile to path, and says on stderr
// where the process's memory is; a failure is only reported. The bench
// calls it right after collecting garbage.
func writeHeapProfile(path string, env *environ) {
	fmt.Fprintf(env.stderr, "bench: %s: %s\n", filepath.Base(path), bench.MemClasses())
	f, err := os.Create(path)
	if err == nil {
		err = errors.Join(pprof.Lookup("heap").WriteTo(f, 0), f.Close())
	}
	if err != nil {
		fmt.Fprintf(env.stderr, "bench: heap profile: %v\n", err)
	}
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

func parseInts(s string) ([]int, error) {
	var out []int
	for _, f := range splitList(s) {
		n, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("%q is not a whole number", f)
		}
		out = append(out, n)
	}
	return out, nil
}
