package main

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/metrics"
)

// runTop is a live view for people: it scrapes a worker's /metrics (which
// carries the JetStream consumer's backlog) and shows what changed.
func runTop(ctx context.Context, args []string, env *environ) error {
	c := newCommand("top", "", "A live terminal view of a ghostwriter process: throughput, latency\npercentiles, failures by code, cost per minute by model, backlog and its trend, circuits.", env.stderr)
	url := c.flags.String("metrics-url", "http://"+defaultMetricsAddr+"/metrics", "the /metrics endpoint of 'ghostwriter run' or 'worker'")
	interval := c.flags.Duration("interval", 2*time.Second, "time between refreshes")
	once := c.flags.Bool("once", false, "print one view and exit (for scripts)")
	if err := c.parse(args, env.getenv); err != nil {
		return err
	}
	if *interval <= 0 {
		return usagef("--interval must be positive")
	}
	client := &http.Client{Timeout: 5 * time.Second}
	scrape := func() (metrics.Sample, error) {
		resp, err := client.Get(*url)
		if err != nil {
			return metrics.Sample{}, fmt.Errorf("scrape %s: %w", *url, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return metrics.Sample{}, fmt.Errorf("scrape %s: %s", *url, resp.Status)
		}
		return metrics.ParseSample(resp.Body, time.Now())
	}
	prev, err := scrape()
	if err != nil {
		return err
	}
	terminal := false
	if f, ok := env.stdout.(*os.File); ok {
		st, err := f.Stat()
		terminal = err == nil && st.Mode()&os.ModeCharDevice != 0
	}
	t := time.NewTicker(*interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		cur, err := scrape()
		if err != nil {
			if *once {
				return err
			}
			fmt.Fprintf(env.stderr, "%v\n", err)
			continue
		}
		if terminal {
			fmt.Fprint(env.stdout, "\x1b[H\x1b[2J")
		}
		metrics.Render(env.stdout, metrics.Diff(prev, cur), cur.At)
		prev = cur
		if *once {
			return nil
		}
	}
}
