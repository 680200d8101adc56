package openai_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	goopenai "github.com/sashabaranov/go-openai"
	"go.uber.org/goleak"

	"github.com/ghostwriter-ai/ghostwriter/internal/fakeai"
	"github.com/ghostwriter-ai/ghostwriter/internal/poll"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/pipeline/openai"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

const secretKey = "sk-test-4f1c9d2e7a"

const draftSchema = `{"type":"object","properties":{"draft":{"type":"string"},"confidence":{"type":"number"},"reason":{"type":"string"},"requires_review":{"type":"boolean"}},"required":["draft","confidence","reason","requires_review"],"additionalProperties":false}`

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func setup(t *testing.T, mutate func(*openai.Config)) (*fakeai.Server, *openai.Client) {
	t.Helper()
	s := fakeai.New()
	t.Cleanup(s.Close)
	cfg := openai.Config{BaseURL: s.URL(), APIKey: secretKey, Model: "gpt-4o-mini", Timeout: 5 * time.Second}
	if mutate != nil {
		mutate(&cfg)
	}
	c, err := openai.New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return s, c
}

func draftRequest() pipeline.Request {
	return pipeline.Request{
		Messages: []pipeline.Message{
			{Role: "system", Content: "You draft support replies."},
			{Role: "user", Content: "I was charged twice for my order."},
		},
		Temperature: 0.2,
		MaxTokens:   400,
		SchemaName:  "support_draft",
		Schema:      json.RawMessage(draftSchema),
		Input:       "I was charged twice for my order.",
	}
}

func TestCompleteStructuredOutput(t *testing.T) {
	ctx := testContext(t)
	s, c := setup(t, nil)

	resp, err := c.Complete(ctx, draftRequest())
	if err != nil {
		t.Fatalf("Complete: %v", err)
	}
	if resp.Text != fakeai.DefaultContent || resp.Model != "gpt-4o-mini" || resp.Provider != "openai" ||
		resp.FinishReason != "stop" || resp.InputTokens == 0 || resp.OutputTokens == 0 {
		t.Errorf("response = %+v", resp)
	}

	reqs := s.Requests()
	if len(reqs) != 1 {
		t.Fatalf("requests = %d, want 1", len(reqs))
	}
	got := reqs[0]
	if got.Model != "gpt-4o-mini" || got.MaxTokens != 400 || got.MaxCompletionTokens != 0 || got.Temperature != 0.2 {
		t.Errorf("model %q max_tokens %d max_completion_tokens %d temperature %v",
			got.Model, got.MaxTokens, got.MaxCompletionTokens, got.Temperature)
	}
	if len(got.Messages) != 2 || got.Messages[0].Role != "system" || got.Messages[1].Role != "user" ||
		got.Messages[1].Content != "I was charged twice for my order." {
		t.Errorf("messages = %+v", got.Messages)
	}
	rf := got.ResponseFormat
	if rf == nil || rf.Type != goopenai.ChatCompletionResponseFormatTypeJSONSchema || rf.JSONSchema == nil {
		t.Fatalf("response_format = %+v", rf)
	}
	if rf.JSONSchema.Name != "support_draft" || !rf.JSONSchema.Strict {
		t.Errorf("json_schema name %q strict %v", rf.JSONSchema.Name, rf.JSONSchema.Strict)
	}
	schema, err := json.Marshal(rf.JSONSchema.Schema)
	if err != nil || string(schema) != draftSchema {
		t.Errorf("schema = %s (%v), want %s", schema, err, draftSchema)
	}
}

func TestCompleteRequestMapping(t *testing.T) {
	tests := []struct {
		name      string
		req       pipeline.Request
		wantModel string
		check     func(t *testing.T, got goopenai.ChatCompletionRequest)
	}{
		{
			name:      "request model overrides default",
			req:       pipeline.Request{Model: "llama3.2:1b", Messages: []pipeline.Message{{Role: "user", Content: "hi"}}},
			wantModel: "llama3.2:1b",
		},
		{
			name:      "no schema sends no response_format",
			req:       pipeline.Request{Messages: []pipeline.Message{{Role: "user", Content: "hi"}}},
			wantModel: "gpt-4o-mini",
			check: func(t *testing.T, got goopenai.ChatCompletionRequest) {
				if got.ResponseFormat != nil {
					t.Errorf("response_format = %+v, want none", got.ResponseFormat)
				}
			},
		},
		{
			name:      "reasoning model gets max_completion_tokens",
			req:       pipeline.Request{Model: "gpt-5-mini", MaxTokens: 300, Messages: []pipeline.Message{{Role: "user", Content: "hi"}}},
			wantModel: "gpt-5-mini",
			check: func(t *testing.T, got goopenai.ChatCompletionRequest) {
				if got.MaxTokens != 0 || got.MaxCompletionTokens != 300 {
					t.Errorf("max_tokens %d max_completion_tokens %d", got.MaxTokens, got.MaxCompletionTokens)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			s, c := setup(t, nil)
			resp, err := c.Complete(ctx, tt.req)
			if err != nil {
				t.Fatalf("Complete: %v", err)
			}
			if resp.Model != tt.wantModel {
				t.Errorf("response model = %q, want %q", resp.Model, tt.wantModel)
			}
			reqs := s.Requests()
			if len(reqs) != 1 || reqs[0].Model != tt.wantModel {
				t.Fatalf("requests = %+v", reqs)
			}
			if tt.check != nil {
				tt.check(t, reqs[0])
			}
		})
	}
}

func TestCompleteErrors(t *testing.T) {
	tests := []struct {
		name           string
		reply          fakeai.Reply
		timeout        time.Duration
		wantCode       pipeline.Code
		wantStatus     int
		wantRetryAfter time.Duration
		wantDetail     string
	}{
		{
			name:           "rate limited with retry-after seconds",
			reply:          fakeai.Reply{Status: 429, Header: http.Header{"Retry-After": {"7"}}},
			wantCode:       pipeline.CodeRateLimited,
			wantStatus:     429,
			wantRetryAfter: 7 * time.Second,
			wantDetail:     "rate_limit_exceeded (429)",
		},
		{
			name:       "rate limited without retry-after",
			reply:      fakeai.Reply{Status: 429},
			wantCode:   pipeline.CodeRateLimited,
			wantStatus: 429,
		},
		{
			name:       "500",
			reply:      fakeai.Reply{Status: 500},
			wantCode:   pipeline.CodeProviderUnavailable,
			wantStatus: 500,
		},
		{
			name:       "502 html page",
			reply:      fakeai.Reply{Status: 502, Body: "<html>bad gateway</html>", Header: http.Header{"Content-Type": {"text/html"}}},
			wantCode:   pipeline.CodeProviderUnavailable,
			wantStatus: 502,
			wantDetail: "bad_gateway (502)",
		},
		{
			name:           "503 with retry-after",
			reply:          fakeai.Reply{Status: 503, Header: http.Header{"Retry-After": {"2"}}},
			wantCode:       pipeline.CodeProviderUnavailable,
			wantStatus:     503,
			wantRetryAfter: 2 * time.Second,
		},
		{
			name:       "408",
			reply:      fakeai.Reply{Status: 408},
			wantCode:   pipeline.CodeTimeout,
			wantStatus: 408,
		},
		{
			name:       "401 invalid api key",
			reply:      fakeai.Reply{Status: 401},
			wantCode:   pipeline.CodeInternal,
			wantStatus: 401,
			wantDetail: "provider rejected request: invalid_api_key (401)",
		},
		{
			name:       "404 model not found",
			reply:      fakeai.Reply{Status: 404},
			wantCode:   pipeline.CodeInternal,
			wantStatus: 404,
			wantDetail: "model_not_found (404)",
		},
		{
			name:       "400 content filter",
			reply:      fakeai.Reply{Status: 400, Body: `{"error":{"message":"filtered","type":null,"code":"content_filter","param":"prompt"}}`},
			wantCode:   pipeline.CodeUnsafeContent,
			wantStatus: 400,
		},
		{
			name:       "connection reset",
			reply:      fakeai.Reply{Reset: true},
			wantCode:   pipeline.CodeProviderUnavailable,
			wantDetail: "connection",
		},
		{
			name:       "garbage 200 body",
			reply:      fakeai.Reply{Body: "garbage"},
			wantCode:   pipeline.CodeProviderUnavailable,
			wantDetail: "malformed response body",
		},
		{
			name:     "refusal",
			reply:    fakeai.Reply{Refusal: "I can't help with that."},
			wantCode: pipeline.CodeUnsafeContent,
		},
		{
			name:     "content_filter finish",
			reply:    fakeai.Reply{Content: "partial", FinishReason: "content_filter"},
			wantCode: pipeline.CodeUnsafeContent,
		},
		{
			name:     "no choices",
			reply:    fakeai.Reply{Body: `{"id":"x","object":"chat.completion","model":"m","choices":[]}`},
			wantCode: pipeline.CodeInvalidOutput,
		},
		{
			name:       "hang past per-call timeout",
			reply:      fakeai.Reply{Hang: true},
			timeout:    200 * time.Millisecond,
			wantCode:   pipeline.CodeTimeout,
			wantDetail: "no response within 200ms",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			s, c := setup(t, func(cfg *openai.Config) {
				if tt.timeout != 0 {
					cfg.Timeout = tt.timeout
				}
			})
			s.Script(tt.reply)

			start := time.Now()
			_, err := c.Complete(ctx, draftRequest())
			elapsed := time.Since(start)

			me := modelError(t, err)
			if me.Code != tt.wantCode {
				t.Errorf("code = %q, want %q (err: %v)", me.Code, tt.wantCode, err)
			}
			if me.Status != tt.wantStatus {
				t.Errorf("status = %d, want %d", me.Status, tt.wantStatus)
			}
			if me.RetryAfter != tt.wantRetryAfter {
				t.Errorf("retry after = %v, want %v", me.RetryAfter, tt.wantRetryAfter)
			}
			if !strings.Contains(me.Detail, tt.wantDetail) {
				t.Errorf("detail = %q, want it to contain %q", me.Detail, tt.wantDetail)
			}
			if got := pipeline.CodeOf(err); got != tt.wantCode {
				t.Errorf("CodeOf = %q, want %q", got, tt.wantCode)
			}
			if !strings.HasPrefix(err.Error(), "openai.complete: ") {
				t.Errorf("error %q lacks the operation prefix", err)
			}
			if strings.Contains(me.Detail, "charged twice") || strings.Contains(me.Detail, "draft support") {
				t.Errorf("detail leaks prompt text: %q", me.Detail)
			}
			if tt.timeout != 0 && elapsed > time.Second {
				t.Errorf("timed out after %v, want about %v", elapsed, tt.timeout)
			}
		})
	}
}

// A schema that is not JSON fails as internal, before any request: the
// pipeline must not retry it or call it an outage.
func TestInvalidSchema(t *testing.T) {
	ctx := testContext(t)
	s, c := setup(t, nil)
	req := draftRequest()
	req.Schema = json.RawMessage(`{"type":"object",`)
	_, err := c.Complete(ctx, req)
	me := modelError(t, err)
	if me.Code != pipeline.CodeInternal || me.Detail != "schema is not valid JSON" {
		t.Errorf("code %q detail %q, want internal, schema is not valid JSON (err: %v)", me.Code, me.Detail, err)
	}
	if me.Code.Retryable() {
		t.Error("an invalid schema is retryable")
	}
	if n := s.Calls(); n != 0 {
		t.Errorf("the server got %d calls, want none", n)
	}
}

func TestRetryableCodes(t *testing.T) {
	tests := []struct {
		name  string
		reply fakeai.Reply
		want  bool
	}{
		{name: "401 is permanent", reply: fakeai.Reply{Status: 401}, want: false},
		{name: "403 is permanent", reply: fakeai.Reply{Status: 403}, want: false},
		{name: "429 is retryable", reply: fakeai.Reply{Status: 429}, want: true},
		{name: "503 is retryable", reply: fakeai.Reply{Status: 503}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := testContext(t)
			s, c := setup(t, nil)
			s.Script(tt.reply)
			_, err := c.Complete(ctx, draftRequest())
			if got := pipeline.CodeOf(err).Retryable(); got != tt.want {
				t.Errorf("retryable = %v, want %v (err: %v)", got, tt.want, err)
			}
		})
	}
}

func TestParentCancel(t *testing.T) {
	ctx := testContext(t)
	s, c := setup(t, nil)
	s.Script(fakeai.Reply{Hang: true})

	callCtx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := c.Complete(callCtx, draftRequest())
		errc <- err
	}()
	poll.Until(t, 5*time.Second, "the request to arrive", func() bool { return s.Calls() == 1 })
	cancel()

	select {
	case err := <-errc:
		if me := modelError(t, err); me.Code != pipeline.CodeCanceled {
			t.Errorf("code = %q, want canceled (err: %v)", me.Code, err)
		}
	case <-ctx.Done():
		t.Fatal("Complete did not return after cancel")
	}
}

func TestParentDeadlineWins(t *testing.T) {
	ctx := testContext(t)
	s, c := setup(t, func(cfg *openai.Config) { cfg.Timeout = time.Minute })
	s.Script(fakeai.Reply{Hang: true})

	callCtx, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Complete(callCtx, draftRequest())
	if me := modelError(t, err); me.Code != pipeline.CodeTimeout || me.Detail != "caller deadline exceeded" {
		t.Errorf("code %q detail %q, want timeout from the caller", me.Code, me.Detail)
	}
	if d := time.Since(start); d > 30*time.Second { // the client's own timeout is a minute
		t.Errorf("returned after %v", d)
	}
}

func TestProviderDown(t *testing.T) {
	ctx := testContext(t)
	s := fakeai.New()
	url := s.URL()
	s.Close()

	c, err := openai.New(openai.Config{BaseURL: url, Model: "m", Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	_, err = c.Complete(ctx, draftRequest())
	if me := modelError(t, err); me.Code != pipeline.CodeProviderUnavailable {
		t.Errorf("code = %q, want provider_unavailable (err: %v)", me.Code, err)
	}
}

func TestCustomProviderAndHTTPClient(t *testing.T) {
	ctx := testContext(t)
	var seen int
	base := roundTripFunc(func(r *http.Request) (*http.Response, error) {
		seen++
		if got := r.Header.Get("Authorization"); got != "Bearer "+secretKey {
			t.Errorf("authorization = %q", got)
		}
		return http.DefaultTransport.RoundTrip(r)
	})
	s, c := setup(t, func(cfg *openai.Config) {
		cfg.Provider = "ollama"
		cfg.HTTPClient = &http.Client{Transport: base}
	})
	s.Script(fakeai.Reply{Status: 429, Header: http.Header{"Retry-After": {"3"}}})

	_, err := c.Complete(ctx, draftRequest())
	if me := modelError(t, err); me.RetryAfter != 3*time.Second || !strings.HasPrefix(me.Detail, "ollama ") {
		t.Errorf("retry after %v detail %q", me.RetryAfter, me.Detail)
	}
	resp, err := c.Complete(ctx, draftRequest())
	if err != nil {
		t.Fatal(err)
	}
	if resp.Provider != "ollama" || seen != 2 {
		t.Errorf("provider %q, custom transport saw %d calls", resp.Provider, seen)
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestConfigValidate(t *testing.T) {
	valid := openai.Config{BaseURL: "http://localhost:11434/v1", Model: "llama3.2:1b"}
	tests := []struct {
		name    string
		mutate  func(*openai.Config)
		wantErr string
	}{
		{name: "valid without key", mutate: func(*openai.Config) {}},
		{name: "valid https", mutate: func(c *openai.Config) { c.BaseURL = "https://api.openai.com/v1"; c.APIKey = secretKey }},
		{name: "missing base url", mutate: func(c *openai.Config) { c.BaseURL = "" }, wantErr: "base URL is required"},
		{name: "bad scheme", mutate: func(c *openai.Config) { c.BaseURL = "ftp://x/v1" }, wantErr: "scheme"},
		{name: "no host", mutate: func(c *openai.Config) { c.BaseURL = "http:///v1" }, wantErr: "no host"},
		{name: "unparsable", mutate: func(c *openai.Config) { c.BaseURL = "http://a b\x7f" }, wantErr: "does not parse"},
		{name: "negative timeout", mutate: func(c *openai.Config) { c.Timeout = -time.Second }, wantErr: "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := valid
			tt.mutate(&cfg)
			err := cfg.Validate()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				if _, err := openai.New(cfg); err != nil {
					t.Fatalf("New: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Validate = %v, want %q", err, tt.wantErr)
			}
			if _, err := openai.New(cfg); err == nil || !strings.HasPrefix(err.Error(), "openai.new: ") {
				t.Errorf("New = %v, want a wrapped validation error", err)
			}
		})
	}
}

func TestSecretNeverPrinted(t *testing.T) {
	ctx := testContext(t)
	cfg := openai.Config{
		BaseURL:    "https://api.openai.com/v1",
		APIKey:     secretKey,
		Model:      "gpt-4o-mini",
		HTTPClient: &http.Client{},
	}
	c, err := openai.New(cfg)
	if err != nil {
		t.Fatal(err)
	}

	var logs bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&logs, nil))
	logger.InfoContext(ctx, "config", "cfg", cfg, "key", cfg.APIKey, "ptr", &cfg)
	logger.InfoContext(ctx, "config group", slog.Any("cfg", cfg))
	jsonCfg, err := json.Marshal(cfg)
	if err != nil {
		t.Fatalf("json.Marshal: %v", err)
	}

	outputs := map[string]string{
		// Spread args: vet rejects %s on a struct, which fmt still accepts.
		"fmt config":  fmt.Sprintf("%v %+v %#v %s", []any{cfg, cfg, cfg, cfg}...),
		"fmt pointer": fmt.Sprintf("%v %+v %#v", &cfg, &cfg, &cfg),
		"fmt key":     fmt.Sprintf("%v %+v %#v %s %q %x %X %d %10s", cfg.APIKey, cfg.APIKey, cfg.APIKey, cfg.APIKey, cfg.APIKey, cfg.APIKey, cfg.APIKey, cfg.APIKey, cfg.APIKey),
		"fmt client":  fmt.Sprintf("%v %+v %s", c, c, c),
		"slog json":   logs.String(),
		"json":        string(jsonCfg),
		"string":      cfg.APIKey.String() + cfg.APIKey.GoString(),
	}
	for name, out := range outputs {
		t.Run(name, func(t *testing.T) {
			if strings.Contains(out, secretKey) || strings.Contains(out, fmt.Sprintf("%x", secretKey)) {
				t.Errorf("secret leaked: %s", out)
			}
			if name != "fmt client" && !strings.Contains(out, "[redacted]") {
				t.Errorf("no [redacted] marker in %s", out)
			}
		})
	}
	if cfg.APIKey.Reveal() != secretKey {
		t.Errorf("Reveal = %q", cfg.APIKey.Reveal())
	}
}

func modelError(t *testing.T, err error) *pipeline.ModelError {
	t.Helper()
	var me *pipeline.ModelError
	if !errors.As(err, &me) {
		t.Fatalf("err = %v (%T), want a *pipeline.ModelError", err, err)
	}
	return me
}

// x-ratelimit-* headers reach the response, so the limiter can slow down.
func TestRateLimitHeaders(t *testing.T) {
	ctx := testContext(t)
	s, c := setup(t, nil)
	s.Script(fakeai.Reply{Content: fakeai.DefaultContent, Header: http.Header{
		"X-Ratelimit-Limit-Requests":     {"500"},
		"X-Ratelimit-Remaining-Requests": {"3"},
		"X-Ratelimit-Reset-Requests":     {"6m0s"},
		"X-Ratelimit-Limit-Tokens":       {"30000"},
		"X-Ratelimit-Remaining-Tokens":   {"29000"},
		"X-Ratelimit-Reset-Tokens":       {"20ms"},
	}})
	resp, err := c.Complete(ctx, draftRequest())
	if err != nil {
		t.Fatal(err)
	}
	want := pipeline.RateLimit{LimitRequests: 500, RemainingRequests: 3, ResetRequests: 6 * time.Minute,
		LimitTokens: 30000, RemainingTokens: 29000, ResetTokens: 20 * time.Millisecond}
	if resp.RateLimit != want {
		t.Errorf("rate limit %+v, want %+v", resp.RateLimit, want)
	}
	resp, err = c.Complete(ctx, draftRequest()) // a reply without the headers
	if err != nil || resp.RateLimit != (pipeline.RateLimit{}) {
		t.Errorf("without headers: %+v, %v; want a zero RateLimit", resp.RateLimit, err)
	}
}

// Cached and reasoning tokens come from usage's details, when present.
func TestCompleteUsageDetails(t *testing.T) {
	tests := []struct {
		name                 string
		reply                fakeai.Reply
		wantCached, wantReas int
	}{
		{"details reported", fakeai.Reply{Content: fakeai.DefaultContent, InputTokens: 1200, OutputTokens: 300,
			CachedInputTokens: 1024, ReasoningTokens: 128}, 1024, 128},
		{"no details", fakeai.Reply{Content: fakeai.DefaultContent, InputTokens: 1200, OutputTokens: 300}, 0, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, c := setup(t, nil)
			s.Script(tt.reply)
			resp, err := c.Complete(testContext(t), draftRequest())
			if err != nil {
				t.Fatalf("Complete: %v", err)
			}
			if resp.InputTokens != 1200 || resp.OutputTokens != 300 ||
				resp.CachedInputTokens != tt.wantCached || resp.ReasoningTokens != tt.wantReas {
				t.Errorf("usage in=%d out=%d cached=%d reasoning=%d, want 1200 300 %d %d",
					resp.InputTokens, resp.OutputTokens, resp.CachedInputTokens, resp.ReasoningTokens, tt.wantCached, tt.wantReas)
			}
		})
	}
}

// Concurrent calls to a plain-HTTP endpoint reuse their connections
// instead of opening one per call (net/http keeps only two idle).
func TestConcurrentCallsReuseConnections(t *testing.T) {
	ctx := testContext(t)
	var mu sync.Mutex
	opened := 0
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		time.Sleep(5 * time.Millisecond) // so the calls overlap
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id":"x","object":"chat.completion","model":"m","choices":[{"index":0,"message":{"role":"assistant","content":%q},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`, fakeai.DefaultContent)
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			mu.Lock()
			opened++
			mu.Unlock()
		}
	}
	srv.Start()
	defer srv.Close()
	c, err := openai.New(openai.Config{BaseURL: srv.URL + "/v1", Model: "m", Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	const workers, rounds = 16, 5
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range rounds {
				if _, err := c.Complete(ctx, draftRequest()); err != nil {
					t.Error(err)
					return
				}
				time.Sleep(2 * time.Millisecond) // a worker's own work between calls
			}
		})
	}
	wg.Wait()
	mu.Lock()
	defer mu.Unlock()
	// One per worker, give or take a connection returned to the pool a
	// moment after its worker asked for the next: keeping only two idle
	// opened about sixty.
	if opened > 2*workers {
		t.Errorf("%d calls by %d workers opened %d connections, want at most %d", workers*rounds, workers, opened, 2*workers)
	}
}
