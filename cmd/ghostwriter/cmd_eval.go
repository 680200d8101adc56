package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/eval"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/prompts"
)

// Model names eval understands besides the configured aliases.
const (
	evalRecorded = "recorded"
	evalRules    = pipeline.RulesAlias
)

func runEval(ctx context.Context, args []string, env *environ) error {
	c := newCommand("eval", "", "Run a task's saved examples through the pipeline with one prompt version and one\nmodel, and print a pass table (or JSON). The default model answers from the\nrecorded answers, offline and for free: the gate make test runs. Exit code 1 when\na case does not come out as expected, past --min-pass-rate.", env.stderr)
	task := c.flags.String("task", "support_draft", "the task whose cases to run")
	casesDir := c.flags.String("cases", "", "folder of case files (default testdata/eval/<task>)")
	recordedDir := c.flags.String("recordings", "", "folder of recorded answers (default <cases>/recorded)")
	parallel := c.flags.Int("parallel", 8, "runs at once")
	repeat := c.flags.Int("repeat", 1, "runs of each case; cases whose runs disagree are reported flaky")
	baseline := c.flags.String("baseline", "", "also run this prompt version and list the cases that changed")
	format := c.flags.String("format", "table", "output: table or json")
	record := c.flags.Bool("record", false, "write each case's answers to the recordings folder (hand-edited recordings are kept)")
	minPassRate := c.flags.Float64("min-pass-rate", 1, "share of cases that must come out as expected")
	wc := c.workerFlags()
	c.flags.Lookup("model").Usage = "recorded (the recorded answers), rules (the offline model), or a model alias from --config or the --openai-* flags; no fallback"
	if err := c.parse(args, env.getenv); err != nil {
		return err
	}
	if c.flags.NArg() > 0 {
		return usagef("eval takes no arguments, got %q", c.flags.Args())
	}
	switch {
	case *parallel < 1 || *repeat < 1:
		return usagef("--parallel and --repeat must be at least 1")
	case *format != "table" && *format != "json":
		return usagef("--format %q: want table or json", *format)
	case *minPassRate < 0 || *minPassRate > 1:
		return usagef("--min-pass-rate must be within 0..1")
	}
	if err := wc.Validate(); err != nil {
		return err
	}
	model := wc.model
	if model == "" {
		model = evalRecorded
	}
	if *record && model == evalRecorded {
		return usagef("--record needs a model to record: --model rules or a configured alias")
	}
	if *casesDir == "" {
		*casesDir = filepath.Join("testdata", "eval", *task)
	}
	if *recordedDir == "" {
		*recordedDir = filepath.Join(*casesDir, "recorded")
	}

	set, err := wc.loadPrompts()
	if err != nil {
		return err
	}
	prompt, err := set.Get(*task, wc.promptVersion)
	if err != nil {
		return usageError{err}
	}
	specs, err := readTasks(c.configPath)
	if err != nil {
		return err
	}
	spec, err := selectTasks(specs, *task)
	if err != nil {
		return err
	}
	var base *prompts.Prompt
	if *baseline != "" {
		if base, err = set.Get(*task, *baseline); err != nil {
			return usageError{err}
		}
	}
	cases, err := eval.LoadCases(*casesDir)
	if err != nil {
		return usageError{err}
	}

	// Warnings only (a model without a price, say): the report is the output.
	log, err := (&logConfig{format: "auto", level: "warn"}).logger(env)
	if err != nil {
		return err
	}
	var pipe *pipeline.Pipeline
	if model == evalRecorded {
		rec, err := eval.LoadRecordings(*recordedDir)
		if err != nil {
			return usageError{err}
		}
		if stale := rec.Stale(prompt); len(stale) > 0 {
			fmt.Fprintf(env.stderr, "note: %d of the recordings were answers to another prompt than %s/%s (%s): they show how a model answered that one\n",
				len(stale), prompt.Task, prompt.Version, prompt.Hash)
		}
		pipe = wc.basePipeline()
		pipe.Model = eval.Tap(rec)
		// Recorded failures replay call by call, without the waits.
		pipe.Retry = pipeline.RetryPolicy{MaxAttempts: pipeline.DefaultRetry.MaxAttempts, Initial: time.Millisecond, Max: time.Millisecond, Budget: time.Second}
	} else {
		wc.onlyModel, wc.wrapModel = model, eval.Tap
		if model == evalRules {
			wc.model = "" // not the name of an OpenAI-compatible model
		}
		if pipe, _, err = wc.buildPipeline(c.configPath, env.getenv, prompt, log, nil); err != nil {
			return err
		}
	}
	m, err := readMoney(c.configPath)
	if err != nil {
		return usageError{err}
	}
	pipe.Prices, pipe.Logger = m.prices, log

	opts := eval.Options{Task: spec[0], Parallel: *parallel, Repeat: *repeat, Recorded: model == evalRecorded, Model: model}
	report := runWithProgress(ctx, env.stderr, "eval "+prompt.Version, cases, pipe, prompt, opts)
	if base != nil {
		report.Compare(runWithProgress(ctx, env.stderr, "eval "+base.Version, cases, pipe, base, opts))
	}
	if *record {
		written, kept, err := eval.Record(*recordedDir, report)
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stderr, "recorded %d answers of %s in %s; kept %d hand-edited recordings\n", written, model, *recordedDir, kept)
	}
	if *format == "json" {
		err = report.WriteJSON(env.stdout)
	} else {
		err = report.WriteTable(env.stdout)
	}
	if err != nil {
		return err
	}
	return report.Gate(*minPassRate)
}

// runWithProgress runs the cases with a progress line on stderr when
// stderr is a terminal.
func runWithProgress(ctx context.Context, stderr io.Writer, label string, cases []eval.Case, pipe *pipeline.Pipeline, prompt *prompts.Prompt, opts eval.Options) *eval.Report {
	if isTerminal(stderr) {
		opts.Progress = func(done, total int) { fmt.Fprintf(stderr, "\r%s: %d/%d", label, done, total) }
		defer fmt.Fprint(stderr, "\r\033[K")
	}
	return eval.Run(ctx, cases, pipe, prompt, opts)
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
