package main

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

const replayUsage = `usage: ghostwriter replay [start] [selectors] [options]
       ghostwriter replay resume|status|cancel|diff ID
       ghostwriter replay list`

// runReplay reprocesses a slice of history through the workers.
func runReplay(ctx context.Context, args []string, env *environ) error {
	verb := "start"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		verb, args = args[0], args[1:]
	}
	if verb == "help" {
		fmt.Fprintln(env.stderr, replayUsage)
		return errHelp
	}
	// "replay diff ID --format json" reads as well as "replay diff --format json ID".
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		args = append(args[1:], args[0])
	}
	c := newCommand("replay "+verb, "", "Reprocess a slice of TICKETS: select events, feed them to the workers through\nGHOSTWRITER_REPLAY, optionally with another prompt version and in shadow.", env.stderr)
	natsCfg := c.natsFlags()
	var spec consumers.ReplaySpec
	var since, until, tickets, tenants, ticketFile string
	var maxCost float64
	var dryRun bool
	format := c.flags.String("format", "table", "diff and list output: table, json or csv")
	if verb == "start" {
		f := c.flags
		f.StringVar(&spec.ID, "id", "", "replay id (default: a new one); the same id twice does nothing the second time")
		f.StringVar(&spec.Task, "task", "support_draft", "task to replay")
		f.BoolVar(&spec.Shadow, "shadow", false, "send results to ghostwriter.shadow.>, never to the product")
		f.StringVar(&since, "since", "", "from this time (RFC 3339, or a duration ago such as 24h)")
		f.StringVar(&until, "until", "", "up to this time (RFC 3339, or a duration ago)")
		f.Uint64Var(&spec.FromSeq, "from-seq", 0, "from this TICKETS sequence")
		f.Uint64Var(&spec.ToSeq, "to-seq", 0, "up to this TICKETS sequence")
		f.StringVar(&spec.Subject, "subject", schemas.TypeTicketCreated, "subject to replay")
		f.StringVar(&tenants, "tenant", "", "only these tenants (comma-separated)")
		f.StringVar(&tickets, "ticket", "", "only these ticket ids (comma-separated)")
		f.StringVar(&ticketFile, "ticket-file", "", "only the ticket ids in this file, one a line")
		f.BoolVar(&spec.FailedOnly, "failed-only", false, "only events whose latest result for the task is its failed event (ticket.draft_failed for support_draft)")
		f.StringVar(&spec.ErrorCode, "error-code", "", "with --failed-only: only this error code")
		f.Float64Var(&spec.RatePerSec, "rate", 0, "feed at most this many events a second (0: no cap)")
		f.Float64Var(&maxCost, "max-cost", 0, "stop before the estimated cost crosses this many US dollars (0: no cap)")
		f.BoolVar(&dryRun, "dry-run", false, "count, estimate and sample; publish nothing")
	}
	var wc *workerConfig
	if verb == "start" {
		wc = c.workerFlags() // the model configuration prices the estimate
	}
	if err := c.parse(args, env.getenv); err != nil {
		return err
	}
	nc, js, err := connect(*natsCfg, "ghostwriter-replay", slog.Default())
	if err != nil {
		return err
	}
	defer nc.Close()

	switch verb {
	case "list":
		list, err := consumers.Replays(ctx, js)
		if err != nil {
			return err
		}
		return printReplays(env, *format, list)
	case "status", "resume", "cancel", "diff":
		if c.flags.NArg() != 1 {
			return usagef("%s", replayUsage)
		}
		id := c.flags.Arg(0)
		switch verb {
		case "status":
			st, err := consumers.ReplayStatus(ctx, js, id)
			if err != nil {
				return err
			}
			return printReplays(env, *format, []consumers.ReplayState{st})
		case "cancel":
			if err := consumers.CancelReplay(ctx, js, id); err != nil {
				return err
			}
			fmt.Fprintf(env.stdout, "replay %s canceled; events not yet taken were removed\n", id)
			return nil
		case "diff":
			rows, err := consumers.ReplayDiff(ctx, js, id)
			if err != nil {
				return err
			}
			return printDiff(env, *format, rows)
		}
		r := &consumers.Replayer{JS: js, Progress: progressPrinter(env)}
		st, err := r.Resume(ctx, id)
		fmt.Fprintln(env.stderr)
		if err != nil {
			return err
		}
		return printReplays(env, *format, []consumers.ReplayState{st})
	case "start":
	default:
		return usagef("%s", replayUsage)
	}

	if c.flags.NArg() > 0 {
		return usagef("%s", replayUsage)
	}
	spec.PromptVersion = wc.promptVersion // --prompt-version: replay with it (default: the workers' own)
	if err := withResultTypes(c.configPath, &spec); err != nil {
		return err
	}
	now := time.Now()
	if spec.ID == "" {
		spec.ID = consumers.NewReplayID(now)
	}
	if spec.Since, err = parseWhen(since, now); err != nil {
		return usagef("--since: %v", err)
	}
	if spec.Until, err = parseWhen(until, now); err != nil {
		return usagef("--until: %v", err)
	}
	spec.Tenants, spec.Tickets = splitList(tenants), splitList(tickets)
	if ticketFile != "" {
		raw, err := os.ReadFile(ticketFile)
		if err != nil {
			return usageError{err}
		}
		spec.Tickets = append(spec.Tickets, splitList(strings.ReplaceAll(string(raw), "\n", ","))...)
	}
	spec.MaxCostMicroUSD = int64(maxCost * 1e6)
	r := &consumers.Replayer{JS: js, Progress: progressPrinter(env)}
	if maxCost > 0 || dryRun {
		if r.Estimate, err = estimator(c, wc, env, spec.Task); err != nil {
			return err
		}
	}
	st, err := r.Start(ctx, spec, dryRun)
	fmt.Fprintln(env.stderr)
	if err != nil {
		return err
	}
	if dryRun {
		fmt.Fprintf(env.stdout, "dry run: %d events selected, %d skipped, estimated $%.4f; sample tickets %v\n",
			st.Fed, st.Skipped, float64(st.EstimatedMicroUSD)/1e6, st.Sample)
		return nil
	}
	return printReplays(env, *format, []consumers.ReplayState{st})
}

// estimator prices one ticket as the workers would run it.
func estimator(c *command, wc *workerConfig, env *environ, task string) (func(schemas.TicketCreated) int64, error) {
	set, err := wc.loadPrompts()
	if err != nil {
		return nil, err
	}
	prompt, err := set.Get(task, wc.promptVersion)
	if err != nil {
		return nil, usageError{err}
	}
	log := slog.New(slog.DiscardHandler)
	pipe, _, err := wc.buildPipeline(c.configPath, env.getenv, prompt, log, nil)
	if err != nil {
		return nil, err
	}
	m, err := readMoney(c.configPath)
	if err != nil {
		return nil, usageError{err}
	}
	pipe.Prices, pipe.Logger = m.prices, log
	return func(t schemas.TicketCreated) int64 {
		return pipe.Estimate(pipeline.Task{Ticket: t, Prompt: prompt})
	}, nil
}

// progressPrinter draws a one-line progress bar with an ETA on stderr.
func progressPrinter(env *environ) func(consumers.ReplayState) {
	start := time.Now()
	return func(st consumers.ReplayState) {
		done := st.Fed + st.Skipped
		total := done + int(st.Remaining)
		eta := "?"
		if done > 0 && total > done {
			eta = (time.Duration(float64(time.Since(start)) / float64(done) * float64(total-done))).Round(time.Second).String()
		}
		width, filled := 30, 30
		if total > 0 {
			filled = width * done / total
		}
		fmt.Fprintf(env.stderr, "\r[%s%s] %d/%d fed %d  est $%.4f  eta %s ", strings.Repeat("#", filled), strings.Repeat(".", width-filled),
			done, total, st.Fed, float64(st.EstimatedMicroUSD)/1e6, eta)
	}
}

func printReplays(env *environ, format string, list []consumers.ReplayState) error {
	if format == "json" {
		return json.NewEncoder(env.stdout).Encode(list)
	}
	w := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tSTATUS\tPROMPT\tSHADOW\tFED\tSKIPPED\tLAST_SEQ\tEST_USD\tSTARTED")
	for _, st := range list {
		fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%d\t%d\t%d\t%.4f\t%s\n", st.Spec.ID, st.Status, cmp.Or(st.Spec.PromptVersion, "(worker's)"),
			st.Spec.Shadow, st.Fed, st.Skipped, st.LastSeq, float64(st.EstimatedMicroUSD)/1e6, st.Started.Format(time.RFC3339))
	}
	return w.Flush()
}

func printDiff(env *environ, format string, rows []consumers.DiffRow) error {
	switch format {
	case "json":
		return json.NewEncoder(env.stdout).Encode(rows)
	case "csv":
		w := csv.NewWriter(env.stdout)
		_ = w.Write([]string{"ticket_id", "source_event_id", "original_reason", "replayed_reason", "reason_changed", "original_confidence",
			"replayed_confidence", "original_length", "replayed_length", "draft_similarity", "original_to_final", "replayed_to_final",
			"cost_delta_microusd", "latency_delta_ms"})
		for _, r := range rows {
			_ = w.Write([]string{r.TicketID, r.SourceEventID, r.Original.Reason, r.Replayed.Reason, strconv.FormatBool(r.ReasonChanged),
				ftoa(r.Original.Confidence), ftoa(r.Replayed.Confidence), strconv.Itoa(r.Original.Length), strconv.Itoa(r.Replayed.Length),
				ftoa(r.DraftSimilarity), ftoa(r.OriginalToFinal), ftoa(r.ReplayedToFinal),
				strconv.FormatInt(r.Replayed.CostMicroUSD-r.Original.CostMicroUSD, 10), strconv.FormatInt(r.Replayed.LatencyMS-r.Original.LatencyMS, 10)})
		}
		w.Flush()
		return w.Error()
	}
	w := tabwriter.NewWriter(env.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TICKET\tREASON\tCONFIDENCE\tLENGTH\tSIMILARITY\tTO_FINAL\tCOST_Δ_µ$\tLATENCY_Δ_MS")
	changed := 0
	for _, r := range rows {
		reason := r.Original.Reason + " → " + r.Replayed.Reason
		if r.ReasonChanged {
			changed++
			reason += " *"
		}
		toFinal := "-"
		if r.ReplayedToFinal >= 0 {
			toFinal = fmt.Sprintf("%.2f→%.2f", r.OriginalToFinal, r.ReplayedToFinal)
		}
		fmt.Fprintf(w, "%s\t%s\t%.2f→%.2f\t%d→%d\t%.2f\t%s\t%+d\t%+d\n", r.TicketID, reason, r.Original.Confidence, r.Replayed.Confidence,
			r.Original.Length, r.Replayed.Length, r.DraftSimilarity, toFinal,
			r.Replayed.CostMicroUSD-r.Original.CostMicroUSD, r.Replayed.LatencyMS-r.Original.LatencyMS)
	}
	fmt.Fprintf(w, "\n%d tickets, %d with a changed reason\n", len(rows), changed)
	return w.Flush()
}

func ftoa(f float64) string { return strconv.FormatFloat(f, 'f', 3, 64) }

// parseWhen reads an RFC 3339 time or a duration ago ("24h").
func parseWhen(s string, now time.Time) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	if d, err := time.ParseDuration(s); err == nil {
		return now.Add(-d), nil
	}
	return time.Parse(time.RFC3339, s)
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// withResultTypes sets the result types of the configured task spec names.
func withResultTypes(configPath string, spec *consumers.ReplaySpec) error {
	specs, err := readTasks(configPath)
	if err != nil {
		return err
	}
	task, err := selectTasks(specs, spec.Task)
	if err != nil {
		return err
	}
	spec.Ready, spec.Failed = task[0].Ready, task[0].Failed
	return nil
}
