package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"text/tabwriter"

	"github.com/ghostwriter-ai/ghostwriter/ledger"
)

func runQuality(ctx context.Context, args []string, env *environ) error {
	return runLedgerReport(ctx, args, env, "quality", "Print what humans kept of the drafts, from the Postgres ledger, by task, prompt\nversion and model, beside what the drafts cost: how many replies were sent as\ndrafted (accepted), lightly edited, rewritten, or not started from a draft\n(not used). Days are UTC; --since and --until are both included.",
		(*ledger.Store).Quality,
		map[string]func(io.Writer, []ledger.QualityRow) error{"table": writeQualityTable, "csv": writeQualityCSV, "json": writeQualityJSON})
}

var qualityColumns = []string{"task", "prompt_version", "model", "drafts", "replies", "accepted", "lightly_edited",
	"rewritten", "not_used", "accepted_rate", "kept_rate", "mean_distance", "cost_per_draft_usd", "cost_usd"}

func qualityRecord(r ledger.QualityRow) []string {
	i := func(n int64) string { return strconv.FormatInt(n, 10) }
	f := func(x float64) string { return strconv.FormatFloat(x, 'f', 3, 64) }
	return []string{r.Task, r.PromptVersion, r.Model, i(r.Drafts), i(r.Replies), i(r.Accepted), i(r.LightlyEdited),
		i(r.Rewritten), i(r.NotUsed), f(r.AcceptedRate()), f(r.KeptRate()), f(r.MeanDistance),
		formatUSD(r.CostPerDraft()), formatUSD(r.CostMicroUSD)}
}

// percent shows a rate of replies, or "-" when there were none.
func percent(rate float64, replies int64) string {
	if replies == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f%%", 100*rate)
}

func writeQualityTable(w io.Writer, rows []ledger.QualityRow) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "TASK\tPROMPT\tMODEL\tDRAFTS\tREPLIES\tACCEPTED\tLIGHT\tREWRITTEN\tNOT USED\tACCEPTED%\tKEPT%\tMEAN DIST\tUSD/DRAFT\tCOST USD")
	var total ledger.QualityRow
	for _, r := range rows {
		task, version, model := r.Task, r.PromptVersion, r.Model
		if task == "" {
			task, version, model = "(no draft)", "-", "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t%.3f\t%s\t%s\n", task, version, model,
			r.Drafts, r.Replies, r.Accepted, r.LightlyEdited, r.Rewritten, r.NotUsed,
			percent(r.AcceptedRate(), r.Replies), percent(r.KeptRate(), r.Replies), r.MeanDistance,
			formatUSD(r.CostPerDraft()), formatUSD(r.CostMicroUSD))
		total.Drafts += r.Drafts
		total.Replies += r.Replies
		total.Accepted += r.Accepted
		total.LightlyEdited += r.LightlyEdited
		total.Rewritten += r.Rewritten
		total.NotUsed += r.NotUsed
		total.CostMicroUSD += r.CostMicroUSD
	}
	fmt.Fprintf(tw, "TOTAL\t\t\t%d\t%d\t%d\t%d\t%d\t%d\t%s\t%s\t\t%s\t%s\n", total.Drafts, total.Replies, total.Accepted,
		total.LightlyEdited, total.Rewritten, total.NotUsed, percent(total.AcceptedRate(), total.Replies),
		percent(total.KeptRate(), total.Replies), formatUSD(total.CostPerDraft()), formatUSD(total.CostMicroUSD))
	return tw.Flush()
}

func writeQualityCSV(w io.Writer, rows []ledger.QualityRow) error {
	return writeCSV(w, qualityColumns, rows, qualityRecord)
}

// qualityJSON is one row of --format json; money is integer
// micro-dollars, rates are fractions of the replies.
type qualityJSON struct {
	Task                 string  `json:"task"`
	PromptVersion        string  `json:"prompt_version"`
	Model                string  `json:"model"`
	Drafts               int64   `json:"drafts"`
	Replies              int64   `json:"replies"`
	Accepted             int64   `json:"accepted"`
	LightlyEdited        int64   `json:"lightly_edited"`
	Rewritten            int64   `json:"rewritten"`
	NotUsed              int64   `json:"not_used"`
	AcceptedRate         float64 `json:"accepted_rate"`
	KeptRate             float64 `json:"kept_rate"`
	MeanDistance         float64 `json:"mean_distance"`
	CostPerDraftMicroUSD int64   `json:"cost_per_draft_microusd"`
	CostMicroUSD         int64   `json:"cost_microusd"`
}

func writeQualityJSON(w io.Writer, rows []ledger.QualityRow) error {
	out := make([]qualityJSON, 0, len(rows))
	for _, r := range rows {
		out = append(out, qualityJSON{Task: r.Task, PromptVersion: r.PromptVersion, Model: r.Model, Drafts: r.Drafts,
			Replies: r.Replies, Accepted: r.Accepted, LightlyEdited: r.LightlyEdited, Rewritten: r.Rewritten, NotUsed: r.NotUsed,
			AcceptedRate: r.AcceptedRate(), KeptRate: r.KeptRate(), MeanDistance: r.MeanDistance,
			CostPerDraftMicroUSD: r.CostPerDraft(), CostMicroUSD: r.CostMicroUSD})
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
