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

// benchBody is a support_draft request as go-openai sends it for a saved
// ticket, shortened.
const benchBody = `{"model":"gpt-4o-mini","messages":[{"role":"system","content":"You are a support agent's assistant.\n\nAnswer with one JSON object only:\n- \"draft\": the reply;\n- \"confidence\": 0 to 1."},{"role":"user","content":"Customer tier: enterprise\n\n\u003cticket_data\u003e\nSubject: POST /v2/exports returns 500\n\nResponse body:\n\n{\"error\":{\"code\":\"EXP-5031\"}}\n\tTraceback \u2028 caf\u00e9 \ud83d\ude00 \ud800 x\n\u003c/ticket_data\u003e"}],"max_tokens":700,"temperature":0.2,"response_format":{"type":"json_schema","json_schema":{"name":"support_draft","schema":{"type":"object","additionalProperties":false,"required":["draft"],"properties":{"draft":{"type":"string","minLength":1,"maxLength":4000},"confidence":{"type":"number","minimum":0,"maximum":1e0,"x":-0.5E+3}}},"strict":true}}}`

// FuzzScanQuestion checks the one-pass scanner against the decode it
// stands in for: whenever it answers, json.Unmarshal into chatRequest
// accepts the body and reads the same model, words and schema name.
func FuzzScanQuestion(f *testing.F) {
	for _, s := range []string{
		benchBody,
		` {"model":null,"messages":null,"response_format":null} `,
		`{"messages":[{"role":"user","content":[{"type":"text","text":"two words"},{"type":"image_url","image_url":{"url":"u"}},{"text":5}]}]}`,
		`{"messages":[{"content":null},{"content":"a\u00a0b\u0085c\u000bd"}],"response_format":{"json_schema":null}}`,
		`{"Model":"x"}`, `{"model":"a","model":"b"}`, `{"model":"caf\u00e9"}`, `{"model":"café"}`,
		`{"messages":[{"content":"x","Content":"y"}]}`, `{"messages":[null]}`, `{"messages":[{"content":5}]}`,
		`{"messages":[{"content":[{"text":"a","text":"b c"}]}]}`, `{"x":[[[[{"y":[1,-0,2.5e-3]}]]]],"model":"m"}`,
		`{"response_format":{"JSON_SCHEMA":{"name":"t"}}}`, `{"response_format":{"json_schema":{"name":"triage","Name":"x"}}}`,
		`{"model":"m"} x`, `{"model":"m",}`, `{"a":01}`, `{"a":"\x01"}`, `{"a":"\q"}`, `[]`, `null`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		q, ok := scanQuestion(body)
		if !ok {
			return
		}
		var req chatRequest
		if err := json.Unmarshal(body, &req); err != nil {
			t.Fatalf("scanQuestion accepted %q, which json.Unmarshal refuses: %v", body, err)
		}
		words, err := req.words()
		if err != nil {
			t.Fatalf("scanQuestion accepted %q, whose content the decode refuses: %v", body, err)
		}
		if want := (question{model: req.Model, words: words, schema: req.schemaName()}); q != want {
			t.Errorf("scanQuestion(%q) = %+v, the decode reads %+v", body, q, want)
		}
	})
}

// TestScanQuestionAnswersUsualBodies checks that the fast path serves
// what go-openai sends, rather than falling back every time.
func TestScanQuestionAnswersUsualBodies(t *testing.T) {
	q, ok := scanQuestion([]byte(benchBody))
	if !ok || q.model != "gpt-4o-mini" || q.schema != "support_draft" || q.words == 0 {
		t.Errorf("scanQuestion(benchBody) = %+v, %v", q, ok)
	}
	body, err := json.Marshal(openai.ChatCompletionRequest{Model: "m", Messages: []openai.ChatCompletionMessage{
		{Role: "user", MultiContent: []openai.ChatMessagePart{{Type: "text", Text: "a b c"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	if q, ok := scanQuestion(body); !ok || q.words != 3 {
		t.Errorf("scanQuestion(%s) = %+v, %v", body, q, ok)
	}
}
