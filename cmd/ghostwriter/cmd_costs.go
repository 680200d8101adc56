package main

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/ledger"
)

const dateLayout = "2006-01-02"

func runCosts(ctx context.Context, args []string, env *environ) error {
	return runLedgerReport(ctx, args, env, "costs",
		"Print spend from the Postgres ledger by day, tenant, model, task and prompt\nversion. Days are UTC; --since and --until are both included.",
		(*ledger.Store).Spend,
		map[string]func(io.Writer, []ledger.SpendRow) error{"table": writeCostsTable, "csv": writeCostsCSV, "json": writeCostsJSON})
}

// runLedgerReport is what costs and quality share: a period of UTC days, a
// format, and one read of the Postgres ledger written to stdout.
func runLedgerReport[R any](ctx context.Context, args []string, env *environ, name, summary string,
	read func(*ledger.Store, context.Context, time.Time, time.Time) ([]R, error),
	writers map[string]func(io.Writer, []R) error,
) error {
	c := newCommand(name, "", summary, env.stderr)
	databaseURL := c.databaseFlag()
	since := c.flags.String("since", "", "first day, YYYY-MM-DD (default: 6 days before --until)")
	until := c.flags.String("until", "", "last day, YYYY-MM-DD (default: today, UTC)")
	format := c.flags.String("format", "table", "output: table, csv or json")
	if err := c.parse(args, env.getenv); err != nil {
		return err
	}
	if c.flags.NArg() > 0 {
		return usagef("%s takes no arguments, got %q", name, c.flags.Args())
	}
	if *databaseURL == "" {
		return usagef("%s needs --database-url (or GHOSTWRITER_DATABASE_URL)", name)
	}
	from, to, err := parseDays(*since, *until)
	if err != nil {
		return err
	}
	write, ok := writers[*format]
	if !ok {
		return usagef("--format %q: want table, csv or json", *format)
	}
	store, err := openStore(ctx, *databaseURL)
	if err != nil {
		return err
	}
	defer store.Close()
	rows, err := read(store, ctx, from, to)
	if err != nil {
		return err
	}
	return write(env.stdout, rows)
}

// parseDays reads --since and --until (YYYY-MM-DD, UTC): by default the
// last 7 days up to today.
func parseDays(since, until string) (from, to time.Time, err error) {
	to = time.Now().UTC()
	if until != "" {
		if to, err = time.Parse(dateLayout, until); err != nil {
			return from, to, usagef("--until %q: want YYYY-MM-DD", until)
		}
	}
	from = to.AddDate(0, 0, -6)
	if since != "" {
		if from, err = time.Parse(dateLayout, since); err != nil {
			return from, to, usagef("--since %q: want YYYY-MM-DD", since)
		}
	}
	if from.After(to) {
		return from, to, usagef("--since %s is after --until %s", from.Format(dateLayout), to.Format(dateLayout))
	}
	return from, to, nil
}

var costColumns = []string{"day", "tenant_id", "model", "task", "prompt_version", "calls",
	"input_tokens", "cached_input_tokens", "output_tokens", "reasoning_tokens", "cost_microusd", "cost_usd"}

func costRecord(r ledger.SpendRow) []string {
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	return []string{r.Day.Format(dateLayout), r.TenantID, r.Model, r.Task, r.PromptVersion, i(r.Calls),
		i(r.InputTokens), i(r.CachedInputTokens), i(r.OutputTokens), i(r.ReasoningTokens), i(r.CostMicroUSD), formatUSD(r.CostMicroUSD)}
}

func writeCostsTable(w io.Writer, rows []ledger.SpendRow) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "DAY\tTENANT\tMODEL\tTASK\tPROMPT\tCALLS\tINPUT\tCACHED\tOUTPUT\tREASONING\tCOST USD")
	var total ledger.SpendRow
	for _, r := range rows {
		rec := costRecord(r)
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n",
			rec[0], rec[1], rec[2], rec[3], rec[4], rec[5], rec[6], rec[7], rec[8], rec[9], rec[11])
		total.Calls += r.Calls
		total.InputTokens += r.InputTokens
		total.CachedInputTokens += r.CachedInputTokens
		total.OutputTokens += r.OutputTokens
		total.ReasoningTokens += r.ReasoningTokens
		total.CostMicroUSD += r.CostMicroUSD
	}
	rec := costRecord(total)
	fmt.Fprintf(tw, "TOTAL\t\t\t\t\t%s\t%s\t%s\t%s\t%s\t%s\n", rec[5], rec[6], rec[7], rec[8], rec[9], rec[11])
	return tw.Flush()
}

func writeCostsCSV(w io.Writer, rows []ledger.SpendRow) error {
	return writeCSV(w, costColumns, rows, costRecord)
}

// writeCSV writes a header and one record a row.
func writeCSV[R any](w io.Writer, columns []string, rows []R, record func(R) []string) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(columns); err != nil {
		return err
	}
	for _, r := range rows {
		if err := cw.Write(record(r)); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// costJSON is one row of --format json; money is integer micro-dollars,
// with the dollar amount as a decimal string beside it.
type costJSON struct {
	Day               string `json:"day"`
	TenantID          string `json:"tenant_id"`
	Model             string `json:"model"`
	Task              string `json:"task"`
	PromptVersion     string `json:"prompt_version"`
	Calls             int64  `json:"calls"`
	InputTokens       int64  `json:"input_tokens"`
	CachedInputTokens int64  `json:"cached_input_tokens"`
	OutputTokens      int64  `json:"output_tokens"`
	ReasoningTokens   int64  `json:"reasoning_tokens"`
	CostMicroUSD      int64  `json:"cost_microusd"`
	CostUSD           string `json:"cost_usd"`
}

func writeCostsJSON(w io.Writer, rows []ledger.SpendRow) error {
	out := make([]costJSON, 0, len(rows))
	for _, r := range rows {
		out = append(out, costJSON{Day: r.Day.Format(dateLayout), TenantID: r.TenantID, Model: r.Model, Task: r.Task,
			PromptVersion: r.PromptVersion, Calls: r.Calls, InputTokens: r.InputTokens, CachedInputTokens: r.CachedInputTokens,
			OutputTokens: r.OutputTokens, ReasoningTokens: r.ReasoningTokens, CostMicroUSD: r.CostMicroUSD, CostUSD: formatUSD(r.CostMicroUSD)})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
