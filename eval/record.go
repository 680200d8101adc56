package eval

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"

	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/prompts"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// RecordedName is the model and provider name of answers the Recorded
// model gives without saying who first gave them.
const RecordedName = "recorded"

// Answer is one model call as a model answered it: its raw text, or the
// error code of a call that failed.
type Answer struct {
	Model        string        `json:"model,omitempty"`
	Provider     string        `json:"provider,omitempty"`
	Text         string        `json:"text"`
	FinishReason string        `json:"finish_reason,omitempty"`
	Usage        schemas.Usage `json:"usage"`
	// Error is the code of a failed call; Text is then empty.
	Error string `json:"error,omitempty"`
}

// Recording is what a model said for one case, call by call: the file
// <case>.json in a case folder's recorded/ folder.
type Recording struct {
	Case string `json:"case"`
	// PromptVersion and PromptHash name the prompt the answers were given
	// to; a recording of another hash shows how a model answered another
	// prompt.
	PromptVersion string `json:"prompt_version"`
	PromptHash    string `json:"prompt_hash"`
	// HandEdited says why a person wrote or changed the answers; Record
	// leaves such a file alone.
	HandEdited string   `json:"hand_edited,omitempty"`
	Answers    []Answer `json:"answers"`
}

// caseRun is the state of one run of one case, carried by the context of
// its model calls.
type caseRun struct {
	name    string
	mu      sync.Mutex
	calls   int      // answers a Recorded model handed out
	answers []Answer // what Tap saw
}

type runKey struct{}

// WithCase returns a context for running the named case: the Recorded
// model answers for it, and Tap keeps its answers. Run sets it for every
// run; call it when driving a pipeline by hand.
func WithCase(ctx context.Context, name string) context.Context {
	return context.WithValue(ctx, runKey{}, &caseRun{name: name})
}

func runOf(ctx context.Context) *caseRun {
	r, _ := ctx.Value(runKey{}).(*caseRun)
	return r
}

// CaseName returns the name WithCase put in ctx, "" if none.
func CaseName(ctx context.Context) string {
	if r := runOf(ctx); r != nil {
		return r.name
	}
	return ""
}

// answersOf returns the answers Tap kept in ctx's run.
func answersOf(ctx context.Context) []Answer {
	r := runOf(ctx)
	if r == nil {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]Answer(nil), r.answers...)
}

// Tap wraps m so that every answer it gives under a context from
// WithCase is kept, for the no_canary assertion and for Record. Safe for
// concurrent use when m is.
func Tap(m pipeline.Model) pipeline.Model { return tap{m} }

type tap struct{ m pipeline.Model }

func (t tap) Complete(ctx context.Context, req pipeline.Request) (pipeline.Response, error) {
	resp, err := t.m.Complete(ctx, req)
	if r := runOf(ctx); r != nil {
		a := Answer{Model: resp.Model, Provider: resp.Provider, Text: resp.Text, FinishReason: resp.FinishReason,
			Usage: schemas.Usage{InputTokens: resp.InputTokens, OutputTokens: resp.OutputTokens}}
		if err != nil {
			a = Answer{Model: req.Model, Error: string(pipeline.CodeOf(err))}
		}
		r.mu.Lock()
		r.answers = append(r.answers, a)
		r.mu.Unlock()
	}
	return resp, err
}

// Recorded is a pipeline.Model that answers from recordings: the nth call
// of a case run gets the nth recorded answer of that case, so an eval
// runs offline, for free, against what a real model once said. The case
// comes from the context (WithCase). A case without a recording, or a
// call past its recorded answers (the pipeline now asks more than it did),
// fails as internal. Safe for concurrent use.
type Recorded struct {
	recordings map[string]Recording
}

var _ pipeline.Model = (*Recorded)(nil)

// LoadRecordings reads every <case>.json file of dir.
func LoadRecordings(dir string) (*Recorded, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("eval.recordings %s: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("eval.recordings %s: no recordings; make them with eval --record", dir)
	}
	r := &Recorded{recordings: map[string]Recording{}}
	var errs []error
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("eval.recordings %s: %w", f, err))
			continue
		}
		var rec Recording
		dec := json.NewDecoder(bytes.NewReader(raw))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&rec); err != nil {
			errs = append(errs, fmt.Errorf("eval.recordings %s: %w", f, err))
			continue
		}
		if want := strings.TrimSuffix(filepath.Base(f), ".json"); rec.Case != want {
			errs = append(errs, fmt.Errorf("eval.recordings %s: case %q, want the file's name %q", f, rec.Case, want))
			continue
		}
		r.recordings[rec.Case] = rec
	}
	return r, errors.Join(errs...)
}

// Recording returns the recording of a case.
func (r *Recorded) Recording(name string) (Recording, bool) {
	rec, ok := r.recordings[name]
	return rec, ok
}

// Stale lists, sorted, the cases whose recordings were made with another
// prompt hash than p's.
func (r *Recorded) Stale(p *prompts.Prompt) []string {
	var stale []string
	for name, rec := range r.recordings {
		if rec.PromptHash != p.Hash {
			stale = append(stale, name)
		}
	}
	sort.Strings(stale)
	return stale
}

// Complete answers with the next recorded answer of the context's case.
func (r *Recorded) Complete(ctx context.Context, req pipeline.Request) (pipeline.Response, error) {
	if err := ctx.Err(); err != nil {
		return pipeline.Response{}, err
	}
	run := runOf(ctx)
	if run == nil {
		return pipeline.Response{}, &pipeline.ModelError{Code: pipeline.CodeInternal, Detail: "recorded model called outside a case run"}
	}
	rec, ok := r.recordings[run.name]
	if !ok {
		return pipeline.Response{}, &pipeline.ModelError{Code: pipeline.CodeInternal, Detail: "no recording for this case; make one with eval --record"}
	}
	run.mu.Lock()
	n := run.calls
	run.calls++
	run.mu.Unlock()
	if n >= len(rec.Answers) {
		return pipeline.Response{}, &pipeline.ModelError{Code: pipeline.CodeInternal,
			Detail: fmt.Sprintf("the recording has %d answers; this is call %d", len(rec.Answers), n+1)}
	}
	a := rec.Answers[n]
	if a.Error != "" {
		return pipeline.Response{}, &pipeline.ModelError{Code: pipeline.Code(a.Error), Detail: "recorded failure"}
	}
	resp := pipeline.Response{
		Text: a.Text, Model: a.Model, Provider: a.Provider, FinishReason: a.FinishReason,
		InputTokens: a.Usage.InputTokens, OutputTokens: a.Usage.OutputTokens,
	}
	if resp.Model == "" {
		resp.Model = RecordedName
	}
	if resp.Provider == "" {
		resp.Provider = RecordedName
	}
	if resp.FinishReason == "" {
		resp.FinishReason = "stop"
	}
	return resp, nil
}

// Record writes, for every case of the report, the answers of its first
// run to dir/<case>.json, and leaves hand-edited recordings alone. It
// returns how many files it wrote and how many it kept.
func Record(dir string, r *Report) (written, kept int, err error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, 0, fmt.Errorf("eval.record: %w", err)
	}
	for _, res := range r.Results {
		file := filepath.Join(dir, res.Case+".json")
		if raw, err := os.ReadFile(file); err == nil {
			var old Recording
			if json.Unmarshal(raw, &old) == nil && old.HandEdited != "" {
				kept++
				continue
			}
		}
		rec := Recording{Case: res.Case, PromptVersion: r.PromptVersion, PromptHash: r.PromptHash, Answers: []Answer{}}
		if len(res.Trials) > 0 && res.Trials[0].answers != nil {
			rec.Answers = res.Trials[0].answers
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false) // recordings are read and edited by people
		enc.SetIndent("", "  ")
		if err := enc.Encode(rec); err != nil {
			return written, kept, fmt.Errorf("eval.record %s: %w", res.Case, err)
		}
		if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
			return written, kept, fmt.Errorf("eval.record: %w", err)
		}
		written++
	}
	return written, kept, nil
}
