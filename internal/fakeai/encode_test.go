package fakeai

import (
	"encoding/json"
	"strings"
	"testing"

	openai "github.com/sashabaranov/go-openai"
)

// FuzzAppendString checks the hand-written string encoder against
// encoding/json: the same string comes back from either.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "plain", "quote \" backslash \\ slash /", "ctl \x00\x01\x1f\x7f\n\r\t", "<html>&amp;",
		"bad \xff\xfe utf8", "\u2028\u2029", "日本語 ✓", "\xed\xa0\x80 surrogate"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got := appendString(nil, s)
		var back string
		if err := json.Unmarshal(got, &back); err != nil {
			t.Fatalf("appendString(%q) = %s: not a JSON string: %v", s, got, err)
		}
		ref, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var want string
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatal(err)
		}
		if back != want {
			t.Errorf("appendString(%q) reads back as %q, encoding/json's as %q", s, back, want)
		}
	})
}

// FuzzCountWords checks countWords against strings.Fields.
func FuzzCountWords(f *testing.F) {
	for _, s := range []string{"", " ", "a b\tc\nd", "  lead and trail  ", "nbsp\u00a0here", "ideo\u3000space", "bad\xffutf8 x", "\x85next"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if got, want := countWords(s), len(strings.Fields(s)); got != want {
			t.Errorf("countWords(%q) = %d, strings.Fields counts %d", s, got, want)
		}
	})
}

// TestAppendCompletionDecodes checks that the hand-written completion
// reads, through go-openai, as the reply it was written from.
func TestAppendCompletionDecodes(t *testing.T) {
	for _, tt := range []struct {
		q     question
		reply Reply
	}{
		{question{model: "gpt-4o-mini", words: 12}, Reply{Content: DefaultContent}},
		{question{}, Reply{Content: "a \"quoted\" <b>line</b>\nnext\u2028", FinishReason: "length", InputTokens: 3, OutputTokens: 4}},
		{question{model: "m"}, Reply{Refusal: "I can't help with that.", FinishReason: "content_filter"}},
		{question{model: "m", words: 5}, Reply{Content: "x", CachedInputTokens: 2, ReasoningTokens: 7}},
		{question{model: "m"}, Reply{Content: "x", FinishReason: "null"}},
	} {
		body := appendCompletion(nil, 42, 1700000000, tt.q, tt.reply)
		var got openai.ChatCompletionResponse
		dec := json.NewDecoder(strings.NewReader(string(body)))
		if err := dec.Decode(&got); err != nil {
			t.Fatalf("%s: %v", body, err)
		}
		model := tt.q.model
		if model == "" {
			model = knownModels[0]
		}
		finish := openai.FinishReason(tt.reply.FinishReason)
		switch finish {
		case "":
			finish = openai.FinishReasonStop
		case openai.FinishReasonNull:
			finish = ""
		}
		in, out := tt.reply.InputTokens, tt.reply.OutputTokens
		if in == 0 {
			in = tt.q.words
		}
		if out == 0 {
			out = len(strings.Fields(tt.reply.Content)) + len(strings.Fields(tt.reply.Refusal))
		}
		if got.ID != "chatcmpl-fakeai-42" || got.Object != "chat.completion" || got.Created != 1700000000 || got.Model != model {
			t.Errorf("%s: head = %+v", body, got)
		}
		if len(got.Choices) != 1 {
			t.Fatalf("%s: %d choices", body, len(got.Choices))
		}
		ch := got.Choices[0]
		if ch.Index != 0 || ch.Message.Role != openai.ChatMessageRoleAssistant || ch.Message.Content != tt.reply.Content ||
			ch.Message.Refusal != tt.reply.Refusal || ch.FinishReason != finish {
			t.Errorf("%s: choice = %+v", body, ch)
		}
		u := got.Usage
		if u.PromptTokens != in || u.CompletionTokens != out || u.TotalTokens != in+out {
			t.Errorf("%s: usage = %+v", body, u)
		}
		if c := tt.reply.CachedInputTokens; (c > 0) != (u.PromptTokensDetails != nil) || (c > 0 && u.PromptTokensDetails.CachedTokens != c) {
			t.Errorf("%s: prompt details = %+v", body, u.PromptTokensDetails)
		}
		if r := tt.reply.ReasoningTokens; (r > 0) != (u.CompletionTokensDetails != nil) || (r > 0 && u.CompletionTokensDetails.ReasoningTokens != r) {
			t.Errorf("%s: completion details = %+v", body, u.CompletionTokensDetails)
		}
		if dec.More() {
			t.Errorf("%s: more than one value", body)
		}
	}
}
