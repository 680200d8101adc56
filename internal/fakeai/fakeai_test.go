package fakeai_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	openai "github.com/sashabaranov/go-openai"
	"go.uber.org/goleak"

	"github.com/ghostwriter-ai/ghostwriter/internal/fakeai"
	"github.com/ghostwriter-ai/ghostwriter/internal/poll"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// setup starts a fake and a go-openai client for it, both cleaned up with t.
func setup(t *testing.T) (context.Context, *fakeai.Server, *openai.Client) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	s := fakeai.New()
	t.Cleanup(s.Close)
	cfg := openai.DefaultConfig("test")
	cfg.BaseURL = s.URL()
	return ctx, s, openai.NewClientWithConfig(cfg)
}

func chatRequest(text string) openai.ChatCompletionRequest {
	return openai.ChatCompletionRequest{
		Model: "gpt-4o-mini",
		Messages: []openai.ChatCompletionMessage{
			{Role: openai.ChatMessageRoleSystem, Content: "You draft support replies."},
			{Role: openai.ChatMessageRoleUser, Content: text},
		},
	}
}

func TestDefaultReply(t *testing.T) {
	ctx, s, c := setup(t)

	resp, err := c.CreateChatCompletion(ctx, chatRequest("my card was charged twice"))
	if err != nil {
		t.Fatalf("CreateChatCompletion: %v", err)
	}
	if len(resp.Choices) != 1 {
		t.Fatalf("choices = %d, want 1", len(resp.Choices))
	}
	ch := resp.Choices[0]
	if ch.FinishReason != openai.FinishReasonStop {
		t.Errorf("finish_reason = %q, want stop", ch.FinishReason)
	}
	var draft struct {
		Draft          *string  `json:"draft"`
		Confidence     *float64 `json:"confidence"`
		Reason         *string  `json:"reason"`
		RequiresReview *bool    `json:"requires_review"`
	}
	dec := json.NewDecoder(strings.NewReader(ch.Message.Content))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&draft); err != nil {
		t.Fatalf("content is not a support_draft object: %v: %s", err, ch.Message.Content)
	}
	if draft.Draft == nil || *draft.Draft == "" || draft.Confidence == nil || draft.Reason == nil || *draft.Reason != "other" || draft.RequiresReview == nil {
		t.Errorf("content misses fields: %s", ch.Message.Content)
	}
	if resp.Model != "gpt-4o-mini" {
		t.Errorf("model = %q, want the requested one", resp.Model)
	}
	// 4 + 5 request words; content words counted by whitespace.
	if resp.Usage.PromptTokens != 9 {
		t.Errorf("prompt_tokens = %d, want 9", resp.Usage.PromptTokens)
	}
	if resp.Usage.CompletionTokens <= 0 || resp.Usage.TotalTokens != resp.Usage.PromptTokens+resp.Usage.CompletionTokens {
		t.Errorf("usage = %+v", resp.Usage)
	}
	if got := s.Calls(); got != 1 {
		t.Errorf("Calls = %d, want 1", got)
	}
	reqs := s.Requests()
	if len(reqs) != 1 || reqs[0].Model != "gpt-4o-mini" || len(reqs[0].Messages) != 2 ||
		reqs[0].Messages[1].Content != "my card was charged twice" {
		t.Errorf("Requests = %+v", reqs)
	}
}

func TestScriptedReplies(t *testing.T) {
	tests := []struct {
		name  string
		reply fakeai.Reply
		check func(t *testing.T, resp openai.ChatCompletionResponse, err error)
	}{
		{
			name:  "content and tokens",
			reply: fakeai.Reply{Content: `{"a":1}`, FinishReason: "length", InputTokens: 11, OutputTokens: 22},
			check: func(t *testing.T, resp openai.ChatCompletionResponse, err error) {
				if err != nil {
					t.Fatal(err)
				}
				ch := resp.Choices[0]
				if ch.Message.Content != `{"a":1}` || ch.FinishReason != openai.FinishReasonLength {
					t.Errorf("choice = %+v", ch)
				}
				if resp.Usage.PromptTokens != 11 || resp.Usage.CompletionTokens != 22 {
					t.Errorf("usage = %+v", resp.Usage)
				}
			},
		},
		{
			name:  "refusal",
			reply: fakeai.Reply{Refusal: "I can't help with that."},
			check: func(t *testing.T, resp openai.ChatCompletionResponse, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if ch := resp.Choices[0]; ch.Message.Refusal != "I can't help with that." || ch.Message.Content != "" {
					t.Errorf("choice = %+v", ch)
				}
			},
		},
		{
			name:  "content filter",
			reply: fakeai.Reply{FinishReason: "content_filter"},
			check: func(t *testing.T, resp openai.ChatCompletionResponse, err error) {
				if err != nil {
					t.Fatal(err)
				}
				if ch := resp.Choices[0]; ch.FinishReason != openai.FinishReasonContentFilter {
					t.Errorf("finish_reason = %q", ch.FinishReason)
				}
			},
		},
		{
			name:  "rate limited",
			reply: fakeai.Reply{Status: 429, Header: http.Header{"Retry-After": {"7"}}},
			check: wantAPIError(429, "rate_limit_exceeded"),
		},
		{
			name:  "unauthorized",
			reply: fakeai.Reply{Status: 401},
			check: wantAPIError(401, "invalid_api_key"),
		},
		{
			name:  "server error",
			reply: fakeai.Reply{Status: 503, Content: "overloaded"},
			check: func(t *testing.T, _ openai.ChatCompletionResponse, err error) {
				wantAPIError(503, "server_error")(t, openai.ChatCompletionResponse{}, err)
				var apiErr *openai.APIError
				if errors.As(err, &apiErr) && apiErr.Message != "overloaded" {
					t.Errorf("message = %q, want overloaded", apiErr.Message)
				}
			},
		},
		{
			name:  "raw error body",
			reply: fakeai.Reply{Status: 502, Body: "<html>bad gateway</html>", Header: http.Header{"Content-Type": {"text/html"}}},
			check: func(t *testing.T, _ openai.ChatCompletionResponse, err error) {
				var reqErr *openai.RequestError
				if !errors.As(err, &reqErr) || reqErr.HTTPStatusCode != 502 || string(reqErr.Body) != "<html>bad gateway</html>" {
					t.Errorf("err = %v, want RequestError 502 with the raw body", err)
				}
			},
		},
		{
			name:  "garbage success body",
			reply: fakeai.Reply{Body: "garbage"},
			check: func(t *testing.T, _ openai.ChatCompletionResponse, err error) {
				var syn *json.SyntaxError
				if !errors.As(err, &syn) {
					t.Errorf("err = %v (%T), want a JSON syntax error", err, err)
				}
			},
		},
		{
			name:  "reset",
			reply: fakeai.Reply{Reset: true},
			check: func(t *testing.T, _ openai.ChatCompletionResponse, err error) {
				if err == nil {
					t.Error("want a connection error")
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx, s, c := setup(t)
			s.Script(tt.reply)
			resp, err := c.CreateChatCompletion(ctx, chatRequest("hello"))
			tt.check(t, resp, err)
			if got := s.Calls(); got != 1 {
				t.Errorf("Calls = %d, want 1", got)
			}
		})
	}
}

func wantAPIError(status int, code string) func(*testing.T, openai.ChatCompletionResponse, error) {
	return func(t *testing.T, _ openai.ChatCompletionResponse, err error) {
		t.Helper()
		var apiErr *openai.APIError
		if !errors.As(err, &apiErr) {
			t.Fatalf("err = %v (%T), want *openai.APIError", err, err)
		}
		if apiErr.HTTPStatusCode != status || apiErr.Code != code || apiErr.Type == "" || apiErr.Message == "" {
			t.Errorf("APIError = %+v, want status %d code %q", apiErr, status, code)
		}
	}
}

func TestRetryAfterHeader(t *testing.T) {
	ctx, s, _ := setup(t)
	s.Script(fakeai.Reply{Status: 429, Header: http.Header{"Retry-After": {"7"}}})

	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/chat/completions", strings.NewReader(`{"model":"m","messages":[]}`))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" {
		t.Errorf("status %d, Retry-After %q", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	var body struct {
		Error struct{ Message, Type, Code string }
	}
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil || body.Error.Code != "rate_limit_exceeded" {
		t.Errorf("error body = %+v, %v", body, err)
	}
}

func TestScriptOrderThenDefault(t *testing.T) {
	ctx, s, c := setup(t)
	s.Script(fakeai.Reply{Content: "one"}, fakeai.Reply{Content: "two"})
	s.SetDefault(func(req openai.ChatCompletionRequest) fakeai.Reply {
		return fakeai.Reply{Content: "default for " + req.Model}
	})

	var got []string
	for range 4 {
		resp, err := c.CreateChatCompletion(ctx, chatRequest("hi"))
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, resp.Choices[0].Message.Content)
	}
	want := []string{"one", "two", "default for gpt-4o-mini", "default for gpt-4o-mini"}
	if !slices.Equal(got, want) {
		t.Errorf("contents = %q, want %q", got, want)
	}

	s.SetDefault(nil)
	resp, err := c.CreateChatCompletion(ctx, chatRequest("hi"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Message.Content != fakeai.DefaultContent {
		t.Errorf("after SetDefault(nil) content = %q", resp.Choices[0].Message.Content)
	}
}

func TestRequestsAreCopies(t *testing.T) {
	ctx, s, c := setup(t)
	req := chatRequest("original")
	req.ResponseFormat = &openai.ChatCompletionResponseFormat{
		Type: openai.ChatCompletionResponseFormatTypeJSONSchema,
		JSONSchema: &openai.ChatCompletionResponseFormatJSONSchema{
			Name: "support_draft", Schema: json.RawMessage(`{"type":"object"}`), Strict: true,
		},
	}
	if _, err := c.CreateChatCompletion(ctx, req); err != nil {
		t.Fatal(err)
	}
	first := s.Requests()
	first[0].Messages[1].Content = "mutated"
	second := s.Requests()
	if second[0].Messages[1].Content != "original" {
		t.Errorf("Requests shares memory between calls: %q", second[0].Messages[1].Content)
	}
	rf := second[0].ResponseFormat
	if rf == nil || rf.JSONSchema == nil || rf.JSONSchema.Name != "support_draft" || !rf.JSONSchema.Strict {
		t.Fatalf("response_format = %+v", rf)
	}
	schema, err := json.Marshal(rf.JSONSchema.Schema)
	if err != nil || string(schema) != `{"type":"object"}` {
		t.Errorf("schema = %s, %v", schema, err)
	}
}

func TestKeepRequestsOff(t *testing.T) {
	ctx, s, c := setup(t)
	s.KeepRequests(false)
	for range 3 {
		if _, err := c.CreateChatCompletion(ctx, chatRequest("not kept")); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Calls(); got != 3 {
		t.Errorf("Calls = %d, want 3", got)
	}
	if got := len(s.Requests()); got != 0 {
		t.Errorf("Requests kept %d bodies, want none", got)
	}
	s.KeepRequests(true)
	if _, err := c.CreateChatCompletion(ctx, chatRequest("kept")); err != nil {
		t.Fatal(err)
	}
	if got := s.Requests(); len(got) != 1 || got[0].Messages[1].Content != "kept" {
		t.Errorf("Requests = %d bodies, want the one sent after KeepRequests(true)", len(got))
	}
}

func TestDelayEndsWithClientDeadline(t *testing.T) {
	ctx, s, c := setup(t)
	s.Script(fakeai.Reply{Delay: time.Minute})

	callCtx, cancel := context.WithTimeout(ctx, 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.CreateChatCompletion(callCtx, chatRequest("hi"))
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want deadline exceeded", err)
	}
	if d := time.Since(start); d > 30*time.Second { // the reply is held a minute
		t.Errorf("returned after %v", d)
	}
}

func TestDelayThenReply(t *testing.T) {
	ctx, s, c := setup(t)
	s.Script(fakeai.Reply{Delay: 50 * time.Millisecond, Content: "late"})
	start := time.Now()
	resp, err := c.CreateChatCompletion(ctx, chatRequest("hi"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Choices[0].Message.Content != "late" || time.Since(start) < 50*time.Millisecond {
		t.Errorf("content %q after %v", resp.Choices[0].Message.Content, time.Since(start))
	}
}

func TestHangUnblocksOnClientCancel(t *testing.T) {
	ctx, s, c := setup(t)
	s.Script(fakeai.Reply{Hang: true})

	callCtx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := c.CreateChatCompletion(callCtx, chatRequest("hi"))
		errc <- err
	}()
	poll.Until(t, 5*time.Second, "the request to arrive", func() bool { return s.Calls() == 1 })
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v, want canceled", err)
		}
	case <-ctx.Done():
		t.Fatal("hanging request did not return after cancel")
	}
}

func TestCloseUnblocksHangingRequests(t *testing.T) {
	ctx, s, c := setup(t)
	const n = 3
	for range n {
		s.Script(fakeai.Reply{Hang: true})
	}

	errc := make(chan error, n)
	for range n {
		go func() {
			_, err := c.CreateChatCompletion(ctx, chatRequest("hi"))
			errc <- err
		}()
	}
	poll.Until(t, 5*time.Second, "all requests to arrive", func() bool { return s.Calls() == n })

	closed := make(chan struct{})
	go func() {
		s.Close()
		close(closed)
	}()
	for range n {
		select {
		case err := <-errc:
			if err == nil {
				t.Error("hanging request succeeded, want a connection error")
			}
		case <-ctx.Done():
			t.Fatal("hanging request did not return after Close")
		}
	}
	select {
	case <-closed:
	case <-ctx.Done():
		t.Fatal("Close blocked")
	}
	s.Close() // idempotent
}

func TestListModels(t *testing.T) {
	ctx, s, c := setup(t)
	req := chatRequest("hi")
	req.Model = "llama3.2:1b"
	if _, err := c.CreateChatCompletion(ctx, req); err != nil {
		t.Fatal(err)
	}
	list, err := c.ListModels(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range list.Models {
		ids = append(ids, m.ID)
	}
	for _, want := range []string{"gpt-4o-mini", "llama3.2:1b"} {
		if !slices.Contains(ids, want) {
			t.Errorf("models %q lack %q", ids, want)
		}
	}
	if s.Calls() != 1 {
		t.Errorf("Calls = %d, want 1 (listing models is not a call)", s.Calls())
	}
}

func TestBadRequestBody(t *testing.T) {
	for _, body := range []string{
		"{not json",
		`{"model":5,"messages":[]}`,
		`{"model":"m","messages":[{"role":"user","content":5}]}`,
		`{"model":"m","messages":[{"role":"user","content":["text"]}]}`,
		`{"model":"m","messages":{}}`,
		`{"model":"m","messages":[],"response_format":{"type":"json_schema","json_schema":{"name":7}}}`,
	} {
		ctx, s, _ := setup(t)
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL()+"/chat/completions", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: status = %d, want 400", body, resp.StatusCode)
		}
		if s.Calls() != 1 || len(s.Requests()) != 0 {
			t.Errorf("%s: Calls = %d, Requests = %d; want 1, 0", body, s.Calls(), len(s.Requests()))
		}
	}
}

// TestMultiContentWords counts the words of text parts, with the default
// reply and with a custom default, which is given the decoded parts.
func TestMultiContentWords(t *testing.T) {
	ctx, s, c := setup(t)
	req := openai.ChatCompletionRequest{Model: "gpt-4o-mini", Messages: []openai.ChatCompletionMessage{
		{Role: openai.ChatMessageRoleSystem, Content: "two words"},
		{Role: openai.ChatMessageRoleUser, MultiContent: []openai.ChatMessagePart{
			{Type: openai.ChatMessagePartTypeText, Text: "three more words"},
			{Type: openai.ChatMessagePartTypeImageURL, ImageURL: &openai.ChatMessageImageURL{URL: "https://example.com/a.png"}},
		}},
	}}
	resp, err := c.CreateChatCompletion(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if resp.Usage.PromptTokens != 5 {
		t.Errorf("prompt_tokens = %d, want 5", resp.Usage.PromptTokens)
	}
	var parts int
	s.SetDefault(func(req openai.ChatCompletionRequest) fakeai.Reply {
		parts = len(req.Messages[1].MultiContent)
		return fakeai.Reply{Content: "ok"}
	})
	if resp, err = c.CreateChatCompletion(ctx, req); err != nil {
		t.Fatal(err)
	}
	if resp.Usage.PromptTokens != 5 || parts != 2 {
		t.Errorf("prompt_tokens = %d, parts = %d; want 5, 2", resp.Usage.PromptTokens, parts)
	}
}

func TestConcurrentUse(t *testing.T) {
	ctx, s, c := setup(t)
	const n = 20
	for i := range n / 2 {
		s.Script(fakeai.Reply{Content: fmt.Sprint("scripted ", i)})
	}

	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i := range n {
		wg.Go(func() {
			_, err := c.CreateChatCompletion(ctx, chatRequest(fmt.Sprint("ticket ", i)))
			errs <- err
			_ = s.Requests()
			_ = s.Calls()
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if s.Calls() != n || len(s.Requests()) != n {
		t.Errorf("Calls = %d, Requests = %d, want %d", s.Calls(), len(s.Requests()), n)
	}
}
