package pipeline_test

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/ghostwriter-ai/ghostwriter/internal/fakeai"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/pipeline/openai"
)

// 220 tickets seeded with personal data and secrets go through the real
// pipeline and go-openai to the fake provider: the prompts it records hold
// none of the raw values, and the drafts, which echo every placeholder the
// model saw, get the values back.
func TestNoPersonalDataReachesTheModel(t *testing.T) {
	ai := fakeai.New()
	defer ai.Close()
	ai.SetDefault(func(req goopenai.ChatCompletionRequest) fakeai.Reply {
		seen := placeholderTokens.FindAllString(req.Messages[len(req.Messages)-1].Content, -1)
		draft, _ := json.Marshal(map[string]any{"draft": "We noted " + strings.Join(seen, ", ") + ".",
			"confidence": 0.9, "reason": "other", "requires_review": false})
		return fakeai.Reply{Content: string(draft)}
	})
	client, err := openai.New(openai.Config{BaseURL: ai.URL(), APIKey: "sk-test"})
	if err != nil {
		t.Fatal(err)
	}
	p := &pipeline.Pipeline{Model: client, Retry: fastRetry}
	corpus := genCorpus(220)
	for i, tk := range corpus {
		out := p.Run(context.Background(), task(t, tk.text))
		if !out.Ready {
			t.Fatalf("ticket %d: %s %s", i, out.Code, out.Detail)
		}
		for raw, kind := range tk.raws {
			if kind == "SECRET" {
				continue // secrets are never echoed back by this model; checked below in the prompts
			}
			if !strings.Contains(out.Answer.Text(pipeline.FieldDraft), raw) {
				t.Errorf("ticket %d: the draft lost %s value %q", i, kind, raw)
			}
		}
		if len(out.Masked) == 0 {
			t.Errorf("ticket %d: nothing counted as masked", i)
		}
	}
	reqs := ai.Requests()
	if len(reqs) != len(corpus) {
		t.Fatalf("the provider saw %d requests, want %d", len(reqs), len(corpus))
	}
	hits := 0
	for i, req := range reqs {
		body, _ := json.Marshal(req)
		for raw := range corpus[i].raws {
			if strings.Contains(string(body), raw) {
				hits++
				t.Errorf("request %d holds a raw %s value", i, corpus[i].raws[raw])
			}
		}
	}
	if hits != 0 {
		t.Errorf("%d raw values reached the model", hits)
	}
}
