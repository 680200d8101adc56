package eval

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/prompts"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// Options tune Run.
type Options struct {
	// Task is the task the cases are for: its result types decide which
	// schema the events must meet. Zero means support_draft.
	Task schemas.Task
	// Parallel is how many runs go at once (default 1).
	Parallel int
	// Repeat is how many times each case runs (default 1); a case whose
	// runs disagree is flaky.
	Repeat int
	// Recorded says the pipeline answers from recordings: cases marked
	// expect_fail must then fail. Against any other model the mark is
	// ignored: it is about a recording, not about the case.
	Recorded bool
	// Timeout bounds one run (default 2m), as the task consumer bounds
	// one task.
	Timeout time.Duration
	// Model names the model for the report.
	Model string
	// Progress, when set, hears of every finished run; calls are
	// serialized.
	Progress func(done, total int)
}

// Status is how a case came out.
type Status string

// The statuses. Pass and XFail are as expected; Fail and XPass are not.
const (
	Pass  Status = "pass"
	Fail  Status = "fail"
	XFail Status = "xfail" // failed, as its expect_fail mark says it must
	XPass Status = "xpass" // passed, though marked expect_fail
)

// Expected reports whether a case came out as it should.
func (s Status) Expected() bool { return s == Pass || s == XFail }

// Trial is one run of one case.
type Trial struct {
	// Outcome is draft_ready or the error code; Detail the error detail.
	Outcome string `json:"outcome"`
	Detail  string `json:"detail,omitempty"`
	// Reason is the answer's reason, or for an answer without one its
	// top-level texts ("department=billing priority=high"): what a
	// report shows and what repeated runs must agree on.
	Reason         string  `json:"reason,omitempty"`
	Confidence     float64 `json:"confidence,omitempty"`
	RequiresReview bool    `json:"requires_review,omitempty"`
	Draft          string  `json:"draft,omitempty"`
	// Answer is the whole answer.
	Answer       pipeline.Answer `json:"answer,omitempty"`
	Model        string          `json:"model,omitempty"`
	Pass         bool            `json:"pass"`
	Checks       []Check         `json:"checks"`
	LatencyMS    float64         `json:"latency_ms"`
	Attempts     int             `json:"attempts"`
	Usage        schemas.Usage   `json:"usage"`
	CostMicroUSD int64           `json:"cost_microusd"`

	latency time.Duration
	answers []Answer
}

// Failed returns the failed checks.
func (t Trial) Failed() []Check {
	var failed []Check
	for _, c := range t.Checks {
		if !c.Pass {
			failed = append(failed, c)
		}
	}
	return failed
}

// same reports whether two trials came out alike: the same verdict,
// outcome and reason.
func (t Trial) same(u Trial) bool {
	return t.Pass == u.Pass && t.Outcome == u.Outcome && t.Reason == u.Reason
}

// Result is how one case came out over all its runs.
type Result struct {
	Case             string `json:"case"`
	Status           Status `json:"status"`
	ExpectFail       bool   `json:"expect_fail,omitempty"`
	ExpectFailReason string `json:"expect_fail_reason,omitempty"`
	// Flaky is true when the runs disagreed.
	Flaky bool `json:"flaky,omitempty"`
	// Failed are the failed checks of the first failing run.
	Failed []Check `json:"failed,omitempty"`
	// LatencyMS is the mean of the runs; CostMicroUSD their sum.
	LatencyMS    float64 `json:"latency_ms"`
	CostMicroUSD int64   `json:"cost_microusd"`
	Trials       []Trial `json:"trials"`
}

// Run takes every case through the pipeline with the prompt, opts.Repeat
// times, opts.Parallel at once, and judges each run. A run never fails
// Run: what went wrong is in its checks. The pipeline's models should be
// wrapped in Tap so that no_canary sees rejected answers and Record has
// something to write. Run returns when every run is done; when ctx ends,
// the runs left fail as canceled.
func Run(ctx context.Context, cases []Case, p *pipeline.Pipeline, prompt *prompts.Prompt, opts Options) *Report {
	task := opts.Task
	if task.Name == "" {
		task = schemas.TaskSupportDraft
	}
	// A schema that cannot be registered fails every case's schema_valid.
	_ = schemas.RegisterResult(task, prompt.OutputSchema)
	parallel, repeat := max(opts.Parallel, 1), max(opts.Repeat, 1)
	timeout := opts.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	trials := make([][]Trial, len(cases))
	for i := range trials {
		trials[i] = make([]Trial, repeat)
	}
	type job struct{ c, r int }
	jobs := make(chan job)
	var mu sync.Mutex
	done, total := 0, len(cases)*repeat
	var wg sync.WaitGroup
	for range min(parallel, total) {
		wg.Go(func() {
			for j := range jobs {
				trials[j.c][j.r] = runOnce(ctx, cases[j.c], p, task, prompt, timeout)
				if opts.Progress != nil {
					mu.Lock()
					done++
					opts.Progress(done, total)
					mu.Unlock()
				}
			}
		})
	}
	for c := range cases {
		for r := range repeat {
			jobs <- job{c, r}
		}
	}
	close(jobs)
	wg.Wait()

	rep := &Report{Task: prompt.Task, PromptVersion: prompt.Version, PromptHash: prompt.Hash, Model: opts.Model,
		Repeat: repeat, Recorded: opts.Recorded}
	for i, c := range cases {
		rep.Results = append(rep.Results, judge(c, trials[i], opts.Recorded))
	}
	rep.total()
	return rep
}

// runOnce runs one case once and checks the result.
func runOnce(ctx context.Context, c Case, p *pipeline.Pipeline, task schemas.Task, prompt *prompts.Prompt, timeout time.Duration) Trial {
	ctx, cancel := context.WithTimeout(WithCase(ctx, c.Name), timeout)
	defer cancel()
	start := time.Now()
	eventID, ticket, err := c.input()
	var out pipeline.Outcome
	if err != nil {
		// As the task consumer does: the contract decides before any
		// model call.
		detail := schemas.KindInvalidJSON
		var fe *schemas.FieldError
		if errors.As(err, &fe) {
			detail = fe.Detail()
		}
		ticket = schemas.TicketCreated{}
		ticket.TicketID, ticket.TenantID = c.readable()
		out = pipeline.Outcome{Code: pipeline.CodeInvalidInput, Detail: detail, PromptVersion: prompt.Version, PromptHash: prompt.Hash}
	} else {
		var created time.Time
		if c.age > 0 {
			created = time.Now().Add(-c.age)
		}
		out = p.Run(ctx, pipeline.Task{Name: prompt.Task, EventID: eventID, Ticket: ticket, Prompt: prompt, Created: created})
	}
	latency := time.Since(start)
	answers := answersOf(ctx)
	checks := c.Assert.Check(Observed{Task: task, EventID: eventID, Ticket: ticket, Outcome: out, Answers: answers, Canary: prompt.Canary})
	t := Trial{
		Outcome: OutcomeReady, Model: out.Model, Pass: true, Checks: checks,
		LatencyMS: float64(latency.Microseconds()) / 1000, Attempts: out.Attempts, Usage: out.Usage, CostMicroUSD: out.CostMicroUSD,
		latency: latency, answers: answers,
	}
	if out.Ready {
		t.Reason, t.Draft, t.Answer = label(out.Answer), out.Answer.Text(pipeline.FieldDraft), out.Answer
		t.Confidence, _ = out.Answer.Confidence()
		t.RequiresReview = out.Answer.RequiresReview()
	} else {
		t.Outcome, t.Detail = string(out.Code), out.Detail
	}
	for _, ch := range checks {
		t.Pass = t.Pass && ch.Pass
	}
	return t
}

// judge sums up a case's runs: it passes when every run passed.
func judge(c Case, trials []Trial, recorded bool) Result {
	res := Result{Case: c.Name, Trials: trials}
	if recorded && c.ExpectFail {
		res.ExpectFail, res.ExpectFailReason = true, c.ExpectFailReason
	}
	pass := true
	var latency time.Duration
	for _, t := range trials {
		latency += t.latency
		res.CostMicroUSD += t.CostMicroUSD
		if !t.same(trials[0]) {
			res.Flaky = true
		}
		if !t.Pass && pass {
			pass = false
			res.Failed = t.Failed()
		}
	}
	res.LatencyMS = float64((latency / time.Duration(len(trials))).Microseconds()) / 1000
	switch {
	case pass && res.ExpectFail:
		res.Status = XPass
	case pass:
		res.Status = Pass
	case res.ExpectFail:
		res.Status = XFail
	default:
		res.Status = Fail
	}
	return res
}

// label is what a report shows of an answer: its reason, or its other
// top-level texts as field=value.
func label(a pipeline.Answer) string {
	if r := a.Text(pipeline.FieldReason); r != "" {
		return r
	}
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(a)) {
		if s, ok := a[k].(string); ok && k != pipeline.FieldDraft {
			parts = append(parts, k+"="+s)
		}
	}
	return strings.Join(parts, " ")
}
