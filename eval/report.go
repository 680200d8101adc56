package eval

import (
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

// Report is the result of Run: one Result per case, with totals, and
// when compared with a baseline, the cases that changed.
type Report struct {
	Task          string `json:"task"`
	PromptVersion string `json:"prompt_version"`
	PromptHash    string `json:"prompt_hash"`
	Model         string `json:"model"`
	Repeat        int    `json:"repeat"`
	// Recorded is true when expect_fail marks applied.
	Recorded bool     `json:"recorded"`
	Results  []Result `json:"results"`
	Totals   Totals   `json:"totals"`
	// Baseline and Changes are set by Compare.
	Baseline *Baseline `json:"baseline,omitempty"`
	Changes  []Change  `json:"changes,omitempty"`
}

// Totals sum up a report.
type Totals struct {
	Cases            int `json:"cases"`
	Passed           int `json:"passed"`
	ExpectedFailures int `json:"expected_failures"`
	Failed           int `json:"failed"`
	UnexpectedPasses int `json:"unexpected_passes"`
	Flaky            int `json:"flaky"`
	// PassRate is the share of cases that came out as expected (passed,
	// or failed as marked).
	PassRate     float64 `json:"pass_rate"`
	CostMicroUSD int64   `json:"cost_microusd"`
	// LatencyP50MS and LatencyMaxMS are over the cases' mean latencies.
	LatencyP50MS float64 `json:"latency_p50_ms"`
	LatencyMaxMS float64 `json:"latency_max_ms"`
}

func (r *Report) total() {
	t := Totals{Cases: len(r.Results)}
	var lat []float64
	for _, res := range r.Results {
		switch res.Status {
		case Pass:
			t.Passed++
		case XFail:
			t.ExpectedFailures++
		case Fail:
			t.Failed++
		case XPass:
			t.UnexpectedPasses++
		}
		if res.Flaky {
			t.Flaky++
		}
		t.CostMicroUSD += res.CostMicroUSD
		lat = append(lat, res.LatencyMS)
	}
	if t.Cases > 0 {
		t.PassRate = float64(t.Passed+t.ExpectedFailures) / float64(t.Cases)
		sort.Float64s(lat)
		t.LatencyP50MS, t.LatencyMaxMS = lat[(len(lat)-1)/2], lat[len(lat)-1]
	}
	r.Totals = t
}

// Unexpected lists the cases that did not come out as expected.
func (r *Report) Unexpected() []Result {
	var out []Result
	for _, res := range r.Results {
		if !res.Status.Expected() {
			out = append(out, res)
		}
	}
	return out
}

// Gate returns an error naming the cases that did not come out as
// expected when the pass rate is under minPassRate (1 means every case),
// or when there are no cases at all.
func (r *Report) Gate(minPassRate float64) error {
	if r.Totals.Cases == 0 {
		return fmt.Errorf("eval: no cases ran")
	}
	if r.Totals.PassRate >= minPassRate {
		return nil
	}
	var names []string
	for _, res := range r.Unexpected() {
		names = append(names, res.Case+" ("+string(res.Status)+")")
	}
	return fmt.Errorf("eval %s/%s: %d of %d cases did not come out as expected (pass rate %.3f, minimum %.3f): %s",
		r.Task, r.PromptVersion, len(names), r.Totals.Cases, r.Totals.PassRate, minPassRate, strings.Join(names, ", "))
}

// Baseline is the prompt a report was compared with, and how it did.
type Baseline struct {
	PromptVersion string `json:"prompt_version"`
	PromptHash    string `json:"prompt_hash"`
	Totals        Totals `json:"totals"`
}

// Change is a case that came out differently under the baseline prompt.
type Change struct {
	Case string `json:"case"`
	// Kind is "better" (now as expected, before not), "worse" (the other
	// way) or "changed" (as expected both times, or neither, but with
	// another outcome or reason).
	Kind     string `json:"kind"`
	Baseline string `json:"baseline"`
	Current  string `json:"current"`
}

// Compare records in r how each case changed from base, a report of the
// same cases under another prompt version.
func (r *Report) Compare(base *Report) {
	r.Baseline = &Baseline{PromptVersion: base.PromptVersion, PromptHash: base.PromptHash, Totals: base.Totals}
	r.Changes = nil
	before := map[string]Result{}
	for _, res := range base.Results {
		before[res.Case] = res
	}
	for _, now := range r.Results {
		was, ok := before[now.Case]
		if !ok {
			continue
		}
		kind := ""
		switch {
		case !was.Status.Expected() && now.Status.Expected():
			kind = "better"
		case was.Status.Expected() && !now.Status.Expected():
			kind = "worse"
		case summary(was) != summary(now):
			kind = "changed"
		}
		if kind != "" {
			r.Changes = append(r.Changes, Change{Case: now.Case, Kind: kind, Baseline: summary(was), Current: summary(now)})
		}
	}
}

// summary says how a case came out in a few words: its status, outcome
// and reason in its first run.
func summary(res Result) string {
	s := string(res.Status)
	if len(res.Trials) > 0 {
		t := res.Trials[0]
		s += " " + t.Outcome
		if t.Reason != "" {
			s += " " + t.Reason
		}
	}
	return s
}

// WriteTable prints the report for people: one row per case, the
// totals, the flaky cases and the changes from the baseline.
func (r *Report) WriteTable(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "CASE\tRESULT\tLATENCY\tCOST USD\tFAILED ASSERTIONS")
	for _, res := range r.Results {
		var failed []string
		for _, c := range res.Failed {
			failed = append(failed, c.String())
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", res.Case, res.Status, ms(res.LatencyMS), usd(res.CostMicroUSD), strings.Join(failed, "; "))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	t := r.Totals
	fmt.Fprintf(w, "\n%s/%s (%s) with %s, %d run(s) per case: %d cases, %d passed, %d failed as marked, %d failed, %d passed though marked to fail; pass rate %.3f; cost $%s; latency p50 %s, max %s\n",
		r.Task, r.PromptVersion, r.PromptHash, r.Model, r.Repeat, t.Cases, t.Passed, t.ExpectedFailures, t.Failed, t.UnexpectedPasses,
		t.PassRate, usd(t.CostMicroUSD), ms(t.LatencyP50MS), ms(t.LatencyMaxMS))
	if t.Flaky > 0 {
		fmt.Fprintf(w, "\nflaky (runs disagree):\n")
		for _, res := range r.Results {
			if res.Flaky {
				fmt.Fprintf(w, "  %s: %s\n", res.Case, runs(res))
			}
		}
	}
	if b := r.Baseline; b != nil {
		fmt.Fprintf(w, "\nagainst baseline %s (%s): pass rate %.3f then, %.3f now; %d cases changed\n",
			b.PromptVersion, b.PromptHash, b.Totals.PassRate, t.PassRate, len(r.Changes))
		if len(r.Changes) > 0 {
			tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
			fmt.Fprintf(tw, "CASE\tCHANGE\t%s\t%s\n", b.PromptVersion, r.PromptVersion)
			for _, c := range r.Changes {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.Case, c.Kind, c.Baseline, c.Current)
			}
			if err := tw.Flush(); err != nil {
				return err
			}
		}
	}
	return nil
}

// runs counts a flaky case's runs by how they came out.
func runs(res Result) string {
	counts := map[string]int{}
	var order []string
	for _, t := range res.Trials {
		k := t.Outcome
		if t.Reason != "" {
			k += " " + t.Reason
		}
		if t.Pass {
			k += " (pass)"
		} else {
			k += " (fail)"
		}
		if counts[k] == 0 {
			order = append(order, k)
		}
		counts[k]++
	}
	parts := make([]string, len(order))
	for i, k := range order {
		parts[i] = fmt.Sprintf("%d× %s", counts[k], k)
	}
	return strings.Join(parts, ", ")
}

// WriteJSON prints the report as one indented JSON document.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(r)
}

// usd formats micro-dollars without a float.
func usd(micro int64) string {
	return fmt.Sprintf("%d.%06d", micro/1_000_000, micro%1_000_000)
}

func ms(v float64) string {
	return time.Duration(v * float64(time.Millisecond)).Round(10 * time.Microsecond).String()
}
