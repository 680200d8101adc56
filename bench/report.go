package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"
)

// WriteJSON writes the report as one JSON object.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("bench.report: %w", err)
	}
	return nil
}

// WriteTable writes the report as two tables, throughput and latency,
// under a header that says where and when it was measured.
func (r *Report) WriteTable(w io.Writer) error {
	fmt.Fprintf(w, "ghostwriter bench: %s %s, %d CPUs, commit %s, %s, %.0f s\n",
		r.GoVersion, r.OS, r.CPUs, r.Commit, r.Started.Format("2006-01-02 15:04 UTC"), r.Seconds)
	fmt.Fprintf(w, "load average %s at start, %s at end; %d saved tickets, %d bytes each on average\n\n",
		load(r.LoadStart), load(r.LoadEnd), r.Tickets, r.TicketBytes)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	if len(r.Throughput)+len(r.LatencyBound) > 0 {
		fmt.Fprintln(tw, "#\tSCENARIO\tLOAD\tPER S\tVS REFERENCE\tCPU µs/MSG\tPEAK RSS MB\tRESULTS")
	}
	for _, th := range r.Throughput {
		num, what, ref, results := "", "", "", ""
		switch th.Scenario {
		case ScenarioCeiling:
			num, what, ref = "1", "ceiling: bare pull/publish/ack loop", "reference"
		case ScenarioInstant:
			num, what, ref = "2", "pipeline, rules model", ratio(r.InstantRatio, "ceiling")
			results = fmt.Sprintf("%d ready, %d failed", th.Ready, th.Failed)
		case ScenarioHTTP:
			num, what, ref = "3", "pipeline, go-openai + fake server", ratio(r.HTTPRatio, "ceiling")
			results = fmt.Sprintf("%d ready, %d failed", th.Ready, th.Failed)
		}
		fmt.Fprintf(tw, "%s\t%s\t%d tickets, C=%d\t%.0f\t%s\t%.0f\t%.0f\t%s\n",
			num, what, th.N, th.Concurrency, th.PerS, ref, th.CPUMicros, th.RSSMB, results)
	}
	for _, lb := range r.LatencyBound {
		rss := fmt.Sprintf("%.0f", lb.RSSMB)
		if !lb.RSSOwn {
			rss += " (process max)"
		}
		fmt.Fprintf(tw, "4\tlatency-bound, L=%s\tC=%d\t%.0f\t%.1f%% of C/L=%.0f\t%.0f\t%s\t%d pre-loaded\n",
			durText(lb.LMS), lb.C, lb.PerS, 100*lb.Share, float64(lb.C)/(lb.LMS/1000), lb.CPUMicros, rss, lb.Preloaded)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(r.LatencyBound) > 0 {
		fmt.Fprintln(w, "4: memory at the end of each window, C tickets in flight, after two collections (MB):")
		for _, lb := range r.LatencyBound {
			m := lb.Mem
			fmt.Fprintf(w, "   C=%d: live heap %.0f (embedded server %.0f, worker and rest %.0f), goroutine stacks %.0f (%d goroutines)\n",
				lb.C, m.ServerHeapMB+m.RestHeapMB, m.ServerHeapMB, m.RestHeapMB, m.StacksMB, m.Goroutines)
		}
	}

	if len(r.Live) > 0 || r.Replay != nil {
		fmt.Fprintln(w, "\nlatency: a ticket's publish to its result's PubAck, minus the model's own time (ms)")
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
		fmt.Fprintln(tw, "#\tSCENARIO\tRATE\tSENT/S\tANSWERED/S\tP50\tP99\tP999\tMAX\tBACKLOG AT STOP\tUNANSWERED\tCPU CORES")
		row := func(num, what string, l Live) {
			fmt.Fprintf(tw, "%s\t%s\t%d/s for %.0fs\t%.0f\t%.0f\t%s\t%s\t%s\t%s\t%d\t%d\t%.2f\n",
				num, what, l.Rate, l.Seconds, l.SentPerS, l.AnsweredPerS, msText(l.P50MS), msText(l.P99MS),
				msText(l.P999MS), msText(l.MaxMS), l.Backlog, l.Unanswered, l.CPUCores)
		}
		for _, l := range r.Live {
			row("5", "live, rules model", l)
		}
		if rp := r.Replay; rp != nil {
			row("6", "live alone", rp.Without)
			row("6", fmt.Sprintf("live + %d-event replay", rp.Events), rp.With)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		fmt.Fprintln(w, "(- : the quantile falls on a ticket that had no result when the bench stopped waiting)")
		if rp := r.Replay; rp != nil {
			took := "not finished"
			if rp.ReplaySeconds != nil {
				took = fmt.Sprintf("all drafted in %.1f s", *rp.ReplaySeconds)
			}
			fmt.Fprintf(w, "6: replay %d of %d events, %s; live p99 while it ran: %s ms (%d tickets)\n",
				rp.ReplayDone, rp.Events, took, msText(rp.DuringP99MS), rp.DuringSent)
		}
	}
	if b := r.Backlog; b != nil {
		fmt.Fprintf(w, "\nbacklog: %d tickets stored; process RSS %.0f MB before the worker started, %.0f MB at the first sample,"+
			" %.0f MB at most and %.0f MB at the last of %d samples over %.0f s, while it drained %d (%.0f/s, %.1f s paused)\n",
			b.N, b.LoadedMB, b.FirstMB, b.MaxMB, b.LastMB, b.Samples, b.Seconds, b.Drained, b.PerS, b.PausedS)
		fmt.Fprintln(w, "heap: live after two collections with the consumer paused and nothing in flight")
		if b.RanOut {
			fmt.Fprintf(w, "the backlog ran out before the %.0f s were up: give more tickets (--backlog-n) for a drain measured throughout\n", b.Seconds)
		}
		tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		fmt.Fprintln(tw, "AT S\tACKED\tRSS MB\tHEAP MB, EMBEDDED SERVER\tHEAP MB, WORKER AND REST\tQUIESCED IN MS\t")
		for _, m := range b.Series {
			fmt.Fprintf(tw, "%.0f\t%d\t%.0f\t%.0f\t%.1f\t%.0f\t\n", m.At, m.Acked, m.RSSMB, m.BrokerHeapMB, m.WorkerHeapMB, m.QuiesceMS)
		}
		if err := tw.Flush(); err != nil {
			return err
		}
	}
	for _, f := range r.Failures {
		fmt.Fprintf(w, "FAILED %s\n", f)
	}
	return nil
}

func load(l [3]float64) string { return fmt.Sprintf("%.2f %.2f %.2f", l[0], l[1], l[2]) }

func ratio(v *float64, of string) string {
	if v == nil {
		return "no " + of + " in this run"
	}
	return fmt.Sprintf("%.2f × %s", *v, of)
}

// msText prints a latency in milliseconds, or "-" when there is none (no
// result came for the ticket the quantile falls on).
func msText(v *float64) string {
	switch {
	case v == nil:
		return "-"
	case *v >= 100:
		return strconv.FormatFloat(*v, 'f', 0, 64)
	}
	return strconv.FormatFloat(*v, 'f', 2, 64)
}

func durText(msv float64) string {
	return time.Duration(msv * float64(time.Millisecond)).String()
}
