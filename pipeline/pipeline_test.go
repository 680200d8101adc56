package pipeline_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/pipeline/rules"
	"github.com/ghostwriter-ai/ghostwriter/prompts"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// modelFunc is a fake Model: a struct of func fields, per STYLE.md.
type modelFunc struct {
	complete func(ctx context.Context, req pipeline.Request) (pipeline.Response, error)
}

func (m modelFunc) Complete(ctx context.Context, req pipeline.Request) (pipeline.Response, error) {
	return m.complete(ctx, req)
}

func answer(text, finish string) modelFunc {
	return modelFunc{func(context.Context, pipeline.Request) (pipeline.Response, error) {
		return pipeline.Response{Text: text, Model: "m1", Provider: "p", InputTokens: 1000, OutputTokens: 200, FinishReason: finish}, nil
	}}
}

func task(t *testing.T, body string) pipeline.Task {
	t.Helper()
	set, err := prompts.Load(prompts.Embedded)
	if err != nil {
		t.Fatal(err)
	}
	p, err := set.Get("support_draft", "v1")
	if err != nil {
		t.Fatal(err)
	}
	return pipeline.Task{Name: "support_draft", EventID: "e1", Prompt: p,
		Ticket: schemas.TicketCreated{TicketID: "T-1", TenantID: "acme", Body: body}}
}

const validAnswer = `{"draft":"Hello","confidence":0.9,"reason":"other","requires_review":false}`

func TestRunOutcomes(t *testing.T) {
	tests := []struct {
		name      string
		model     pipeline.Model
		body      string
		wantReady bool
		wantCode  pipeline.Code
		wantCalls int
	}{
		{"valid answer", answer(validAnswer, "stop"), "hi", true, "", 1},
		{"fenced answer", answer("```json\n"+validAnswer+"\n```", "stop"), "hi", true, "", 1},
		{"not json", answer("Sure! Here's a draft.", "stop"), "hi", false, pipeline.CodeInvalidOutput, 1},
		{"schema mismatch", answer(`{"draft":"x"}`, "stop"), "hi", false, pipeline.CodeInvalidOutput, 1},
		{"truncated", answer(`{"draft":"x`, "length"), "hi", false, pipeline.CodeTruncatedOutput, 1},
		{"content filter", answer("", "content_filter"), "hi", false, pipeline.CodeUnsafeContent, 1},
		{"rate limited", modelFunc{func(context.Context, pipeline.Request) (pipeline.Response, error) {
			return pipeline.Response{}, &pipeline.ModelError{Code: pipeline.CodeRateLimited, Status: 429, RetryAfter: time.Second}
		}}, "hi", false, pipeline.CodeRateLimited, 1},
		{"call timeout", modelFunc{func(ctx context.Context, _ pipeline.Request) (pipeline.Response, error) {
			<-ctx.Done()
			return pipeline.Response{}, ctx.Err()
		}}, "hi", false, pipeline.CodeTimeout, 1},
		{"empty after cleaning", answer(validAnswer, "stop"), "\u200b \t\n\x00", false, pipeline.CodeInvalidInput, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &pipeline.Pipeline{Model: tt.model, CallTimeout: 50 * time.Millisecond,
				Prices: map[string]pipeline.Price{"m1": {InputPerMTok: 150_000, OutputPerMTok: 600_000}}}
			out := p.Run(context.Background(), task(t, tt.body))
			if out.Ready != tt.wantReady || out.Code != tt.wantCode || len(out.Calls) != tt.wantCalls {
				t.Fatalf("outcome ready=%v code=%q calls=%d (%s), want ready=%v code=%q calls=%d",
					out.Ready, out.Code, len(out.Calls), out.Detail, tt.wantReady, tt.wantCode, tt.wantCalls)
			}
			if out.PromptVersion != "v1" {
				t.Errorf("prompt version = %q", out.PromptVersion)
			}
			if out.Ready && out.CostMicroUSD != 270 { // 1000×0.15 + 200×0.60
				t.Errorf("cost = %d µ$, want 270", out.CostMicroUSD)
			}
			if !out.Ready && out.Code.Retryable() != out.Retryable() {
				t.Error("Outcome.Retryable disagrees with its code")
			}
		})
	}
}

func TestRunNeverLeaksTicketTextInDetail(t *testing.T) {
	const secret = "canary-4111111111111111"
	p := &pipeline.Pipeline{Model: answer(`{"draft":"`+secret+`"}`, "stop")}
	out := p.Run(context.Background(), task(t, "my card is "+secret))
	if out.Ready || strings.Contains(out.Detail, secret) {
		t.Fatalf("detail %q leaks ticket text (ready=%v)", out.Detail, out.Ready)
	}
}

func TestRunLowConfidenceNeedsReview(t *testing.T) {
	p := &pipeline.Pipeline{Model: answer(`{"draft":"Hi","confidence":0.3,"reason":"other","requires_review":false}`, "stop"), ReviewBelow: 0.5}
	out := p.Run(context.Background(), task(t, "hi"))
	if !out.Ready || !out.Draft.RequiresReview {
		t.Fatalf("outcome = %+v, want ready and requires_review", out)
	}
}

// Every saved ticket drafts with the rules model, and the request carries
// the prompt's settings and schema.
func TestRunSavedTicketsWithRules(t *testing.T) {
	files, err := filepath.Glob("../testdata/tickets/*.json")
	if err != nil || len(files) < 20 {
		t.Fatalf("want at least 20 saved tickets, found %d (%v)", len(files), err)
	}
	var seen pipeline.Request
	model := modelFunc{func(ctx context.Context, req pipeline.Request) (pipeline.Response, error) {
		seen = req
		return rules.Model{}.Complete(ctx, req)
	}}
	p := &pipeline.Pipeline{Model: model}
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var tc schemas.TicketCreated
		if err := json.Unmarshal(raw, &tc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		tk := task(t, "")
		tk.Ticket = tc
		out := p.Run(context.Background(), tk)
		if !out.Ready || out.Model != rules.Name || out.Provider != rules.Name {
			t.Errorf("%s: ready=%v model=%q code=%s %s", filepath.Base(f), out.Ready, out.Model, out.Code, out.Detail)
		}
		if seen.MaxTokens != tk.Prompt.Model.MaxTokens || seen.SchemaName != "support_draft" || len(seen.Schema) == 0 {
			t.Errorf("%s: request settings = %d %q", filepath.Base(f), seen.MaxTokens, seen.SchemaName)
		}
	}
}

func TestClean(t *testing.T) {
	tests := []struct{ name, in, want string }{
		{"crlf and trailing spaces", "a  \r\nb\t \r\n", "a\nb"},
		{"zero width and control", "he\u200bl\x00lo\u00a0", "hello"},
		{"blank runs", "a\n\n\n\nb", "a\n\nb"},
		{"already clean", "hello\nworld", "hello\nworld"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := pipeline.Clean(tt.in); got != tt.want {
				t.Errorf("Clean(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
	long := strings.Repeat("a", pipeline.MaxInputRunes) + "TAIL"
	got := pipeline.Clean("HEAD" + long)
	if !strings.HasPrefix(got, "HEAD") || !strings.HasSuffix(got, "TAIL") || !strings.Contains(got, pipeline.CutMarker) {
		t.Error("long text lost its head, tail or cut marker")
	}
}
