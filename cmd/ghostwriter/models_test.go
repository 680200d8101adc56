package main

import (
	"io"
	"log/slog"
	"testing"

	"github.com/ghostwriter-ai/ghostwriter/prompts"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// The example configuration in deploy/ must stay valid: it is what
// operators copy.
func TestExampleConfigBuilds(t *testing.T) {
	c := newCommand("worker", "", "", io.Discard)
	wc := c.workerFlags()
	env := map[string]string{"OPENAI_API_KEY": "sk-test"}
	if err := c.parse([]string{"--config", "../../deploy/ghostwriter.example.yaml"}, func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if wc.concurrency != 16 {
		t.Errorf("concurrency from the file = %d, want 16", wc.concurrency)
	}
	set, err := prompts.Load(prompts.Embedded)
	if err != nil {
		t.Fatal(err)
	}
	prompt, err := set.Get("support_draft", "")
	if err != nil {
		t.Fatal(err)
	}
	// The azure key file does not exist here: Build must say so.
	if _, _, err := wc.buildPipeline(c.configPath, func(k string) string { return env[k] }, prompt, slog.New(slog.DiscardHandler), nil); err == nil {
		t.Fatal("a missing api_key_file was not reported")
	}
	mc, err := wc.modelsConfig(c.configPath, prompt)
	if err != nil {
		t.Fatal(err)
	}
	if err := mc.Validate(); err != nil {
		t.Fatalf("example config does not validate: %v", err)
	}
	if len(mc.Routes) != 5 || mc.Routes[0].When.Tasks[0] != "triage" || mc.Routes[1].When.CustomerTiers[0] != "enterprise" || mc.Retry.Policy().MaxAttempts != 3 {
		t.Errorf("example config read as %+v", mc)
	}
	tasks, _, err := wc.loadTasks(c.configPath)
	if err != nil {
		t.Fatal(err)
	}
	if len(tasks) != 2 || tasks[0].Spec != schemas.TaskSupportDraft || tasks[1].Spec != schemas.TaskTriage || tasks[1].Prompt.Task != "triage" {
		t.Errorf("example tasks read as %+v", tasks)
	}
}

func TestFlagsMakeOneModelWithRulesBehind(t *testing.T) {
	set, err := prompts.Load(prompts.Embedded)
	if err != nil {
		t.Fatal(err)
	}
	prompt, _ := set.Get("support_draft", "")
	tests := []struct {
		name      string
		wc        workerConfig
		wantChain []string
	}{
		{"nothing configured", workerConfig{}, []string{"rules"}},
		{"a key", workerConfig{apiKey: "sk-x"}, []string{prompt.Model.Name, "rules"}},
		{"a base URL and a model", workerConfig{openAIBaseURL: "http://127.0.0.1:1/v1", model: "llama3.1"}, []string{"llama3.1", "rules"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			mc, err := tt.wc.modelsConfig("", prompt)
			if err != nil {
				t.Fatal(err)
			}
			if got := mc.Routes[0].Chain; len(got) != len(tt.wantChain) || got[0] != tt.wantChain[0] {
				t.Errorf("chain %v, want %v", got, tt.wantChain)
			}
			if err := mc.Validate(); err != nil {
				t.Error(err)
			}
		})
	}
}
