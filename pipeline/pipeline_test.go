package pipeline_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/pipeline/rules"
	"github.com/ghostwriter-ai/ghostwriter/prompts"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// countingModel is a fake Model: a struct of func fields, per STYLE.md,
// that counts its calls and keeps its requests. Not for concurrent use.
type countingModel struct {
	complete func(ctx context.Context, req pipeline.Request) (pipeline.Response, error)
	calls    atomic.Int64
	requests []pipeline.Request
}

func (m *countingModel) Complete(ctx context.Context, req pipeline.Request) (pipeline.Response, error) {
	m.calls.Add(1)
	return m.complete(ctx, req)
}

func answer(text, finish string) *countingModel {
	return script(pipeline.Response{Text: text, FinishReason: finish})
}

func task(t *testing.T, body string) pipeline.Task {
	t.Helper()
	return taskOf(t, "support_draft", body)
}

// taskOf is a task of the named built-in task, with its latest prompt.
func taskOf(t *testing.T, name, body string) pipeline.Task {
	t.Helper()
	set, err := prompts.Load(prompts.Embedded)
	if err != nil {
		t.Fatal(err)
	}
	p, err := set.Get(name, "")
	if err != nil {
		t.Fatal(err)
	}
	return pipeline.Task{Name: name, EventID: "e1", Prompt: p,
		Ticket: schemas.TicketCreated{TicketID: "T-1", TenantID: "acme", Body: body}}
}

const validAnswer = `{"draft":"Hello","confidence":0.9,"reason":"other","requires_review":false}`

// fastRetry keeps tests quick: three attempts a millisecond apart, under a
// budget no loaded machine exhausts.
var fastRetry = pipeline.RetryPolicy{MaxAttempts: 3, Initial: time.Millisecond, Max: 2 * time.Millisecond, Budget: 30 * time.Second}

// script answers with the given responses in turn, repeating the last.
func script(answers ...pipeline.Response) *countingModel {
	m := &countingModel{}
	m.complete = func(_ context.Context, req pipeline.Request) (pipeline.Response, error) {
		i := min(int(m.calls.Load())-1, len(answers)-1)
		r := answers[i]
		if r.Model == "" {
			r.Model, r.Provider, r.InputTokens, r.OutputTokens = "m1", "p", 1000, 200
		}
		m.requests = append(m.requests, req)
		return r, nil
	}
	return m
}

func failing(err error) *countingModel {
	m := &countingModel{}
	m.complete = func(context.Context, pipeline.Request) (pipeline.Response, error) { return pipeline.Response{}, err }
	return m
}

func TestRunOutcomes(t *testing.T) {
	ok := pipeline.Response{Text: validAnswer, FinishReason: "stop"}
	tests := []struct {
		name      string
		model     *countingModel
		body      string
		wantReady bool
		wantCode  pipeline.Code
		wantCalls int
	}{
		{"valid answer", script(ok), "hi", true, "", 1},
		{"fenced answer", script(pipeline.Response{Text: "```json\n" + validAnswer + "\n```", FinishReason: "stop"}), "hi", true, "", 1},
		{"not json, repaired", script(pipeline.Response{Text: "Sure! Here's a draft.", FinishReason: "stop"}, ok), "hi", true, "", 2},
		{"not json twice", script(pipeline.Response{Text: "Sure! Here's a draft.", FinishReason: "stop"}), "hi", false, pipeline.CodeInvalidOutput, 2},
		{"schema mismatch twice", script(pipeline.Response{Text: `{"draft":"x"}`, FinishReason: "stop"}), "hi", false, pipeline.CodeInvalidOutput, 2},
		{"truncated, then room enough", script(pipeline.Response{Text: `{"draft":"x`, FinishReason: "length"}, ok), "hi", true, "", 2},
		{"truncated twice", script(pipeline.Response{Text: `{"draft":"x`, FinishReason: "length"}), "hi", false, pipeline.CodeTruncatedOutput, 2},
		{"content filter", script(pipeline.Response{FinishReason: "content_filter"}), "hi", false, pipeline.CodeUnsafeContent, 1},
		{"refusal is not retried", failing(&pipeline.ModelError{Code: pipeline.CodeUnsafeContent}), "hi", false, pipeline.CodeUnsafeContent, 1},
		{"401 is not retried", failing(&pipeline.ModelError{Code: pipeline.CodeInternal, Status: 401}), "hi", false, pipeline.CodeInternal, 1},
		{"503 retried up to the limit", failing(&pipeline.ModelError{Code: pipeline.CodeProviderUnavailable, Status: 503}), "hi", false, pipeline.CodeProviderUnavailable, 3},
		{"call timeout retried", &countingModel{complete: func(ctx context.Context, _ pipeline.Request) (pipeline.Response, error) {
			<-ctx.Done()
			return pipeline.Response{}, ctx.Err()
		}}, "hi", false, pipeline.CodeTimeout, 3},
		{"empty after cleaning", script(ok), "\u200b \t\n\x00", false, pipeline.CodeInvalidInput, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &pipeline.Pipeline{Model: tt.model, CallTimeout: 20 * time.Millisecond, Retry: fastRetry,
				Prices: map[string]pipeline.Price{"m1": {InputPerMTok: 150_000, OutputPerMTok: 600_000}}}
			out := p.Run(context.Background(), task(t, tt.body))
			if out.Ready != tt.wantReady || out.Code != tt.wantCode || len(out.Calls) != tt.wantCalls || int(tt.model.calls.Load()) != tt.wantCalls {
				t.Fatalf("outcome ready=%v code=%q calls=%d/%d (%s), want ready=%v code=%q calls=%d",
					out.Ready, out.Code, len(out.Calls), tt.model.calls.Load(), out.Detail, tt.wantReady, tt.wantCode, tt.wantCalls)
			}
			if out.PromptVersion != "v1" || out.Attempts != tt.wantCalls {
				t.Errorf("prompt version %q attempts %d", out.PromptVersion, out.Attempts)
			}
			if out.Ready && out.CostMicroUSD != int64(270*tt.wantCalls) { // 1000×0.15 + 200×0.60 a call
				t.Errorf("cost = %d µ$, want %d", out.CostMicroUSD, 270*tt.wantCalls)
			}
			if !out.Ready && out.Code.Retryable() != out.Retryable() {
				t.Error("Outcome.Retryable disagrees with its code")
			}
		})
	}
}

// A repair call shows the model its answer and what was wrong with it;
// a retry after truncation asks for more room, within the prompt's cap.
func TestRepairAndTruncationRequests(t *testing.T) {
	m := script(pipeline.Response{Text: `{"draft":"x"}`, FinishReason: "stop"}, pipeline.Response{Text: validAnswer, FinishReason: "stop"})
	p := &pipeline.Pipeline{Model: m, Retry: fastRetry}
	tk := task(t, "hi")
	if out := p.Run(context.Background(), tk); !out.Ready {
		t.Fatalf("not repaired: %s %s", out.Code, out.Detail)
	}
	repair := m.requests[1].Messages
	if len(repair) != 4 || repair[2].Role != "assistant" || repair[2].Content != `{"draft":"x"}` ||
		!strings.Contains(repair[3].Content, "missing required field") {
		t.Errorf("repair messages = %+v", repair)
	}

	m = script(pipeline.Response{Text: `{"dra`, FinishReason: "length"}, pipeline.Response{Text: validAnswer, FinishReason: "stop"})
	p = &pipeline.Pipeline{Model: m, Retry: fastRetry}
	if out := p.Run(context.Background(), tk); !out.Ready {
		t.Fatalf("truncation not retried: %s", out.Code)
	}
	if first, second := m.requests[0].MaxTokens, m.requests[1].MaxTokens; second <= first || second > tk.Prompt.Model.MaxTokensCap {
		t.Errorf("max_tokens %d then %d, want more the second time, at most %d", first, second, tk.Prompt.Model.MaxTokensCap)
	}
}

// A Retry-After longer than the retry budget is not slept: the outcome
// carries it, so the consumer can hand the message back with that delay.
func TestRetryAfterBeyondBudgetIsHandedBack(t *testing.T) {
	m := failing(&pipeline.ModelError{Code: pipeline.CodeRateLimited, Status: 429, RetryAfter: time.Minute})
	p := &pipeline.Pipeline{Model: m, Retry: fastRetry}
	out := p.Run(context.Background(), task(t, "hi"))
	if out.Code != pipeline.CodeRateLimited || out.RetryAfter != time.Minute || m.calls.Load() != 1 {
		t.Errorf("code %s retry-after %v calls %d; want rate_limited, 1m, 1 call", out.Code, out.RetryAfter, m.calls.Load())
	}
}

func TestOutputChecks(t *testing.T) {
	tk := task(t, "hi")
	long := strings.Repeat("a", tk.Prompt.MaxDraftChars+1)
	tests := []struct {
		name, draft string
		want        pipeline.Code
	}{
		{"too long", long, pipeline.CodeInvalidOutput},
		{"canary", "Sure. Ref " + tk.Prompt.Canary + ".", pipeline.CodeUnsafeContent},
		{"system prompt", "My instructions: You are a support agent's assistant. You write a first draft of a reply", pipeline.CodeUnsafeContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			answer, _ := json.Marshal(map[string]any{"draft": tt.draft, "confidence": 0.9, "reason": "other", "requires_review": false})
			p := &pipeline.Pipeline{Model: script(pipeline.Response{Text: string(answer), FinishReason: "stop"}), Retry: fastRetry}
			if out := p.Run(context.Background(), tk); out.Ready || out.Code != tt.want {
				t.Errorf("ready=%v code=%s (%s), want %s", out.Ready, out.Code, out.Detail, tt.want)
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
	if !out.Ready || !out.Answer.RequiresReview() {
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
	model := &countingModel{complete: func(ctx context.Context, req pipeline.Request) (pipeline.Response, error) {
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

func TestLinksTheTicketNeverSent(t *testing.T) {
	draftWith := func(text string) string {
		b, _ := json.Marshal(map[string]any{"draft": text, "confidence": 0.9, "reason": "other", "requires_review": false})
		return string(b)
	}
	tests := []struct {
		name, body, draft string
		fail              bool
		wantReview        bool
		wantCode          pipeline.Code
	}{
		{"no link", "hi", "Hello there", false, false, ""},
		{"link from the ticket", "see https://shop.example.com/order/1", "Your order https://shop.example.com/order/1 ships today", false, false, ""},
		{"allowed host", "hi", "Read https://help.ghostwriter.dev/refunds", false, false, ""},
		{"unknown host flagged", "hi", "Claim it at https://evil.example.net/x", false, true, ""},
		{"unknown host failed", "hi", "Claim it at https://evil.example.net/x", true, false, pipeline.CodeUnsafeContent},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := &pipeline.Pipeline{Model: answer(draftWith(tt.draft), "stop"), Retry: fastRetry,
				AllowedLinkHosts: []string{"help.ghostwriter.dev"}, FailUnknownLinks: tt.fail}
			out := p.Run(context.Background(), task(t, tt.body))
			if out.Code != tt.wantCode || (out.Ready && out.Answer.RequiresReview() != tt.wantReview) {
				t.Errorf("ready=%v review=%v code=%s, want review=%v code=%q", out.Ready, out.Answer.RequiresReview(), out.Code, tt.wantReview, tt.wantCode)
			}
		})
	}
}
