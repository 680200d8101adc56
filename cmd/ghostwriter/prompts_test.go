package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/prompts"
)

func TestPromptsCommands(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	set, err := prompts.Load(prompts.Embedded)
	if err != nil {
		t.Fatal(err)
	}
	v1, _ := set.Get("support_draft", "v1")
	broken := t.TempDir()
	if err := os.MkdirAll(filepath.Join(broken, "support_draft"), 0o755); err != nil {
		t.Fatal(err)
	}
	good, _ := prompts.Embedded.ReadFile("support_draft/v1.md")
	bad := strings.Replace(string(good), ".Ticket.Channel", ".Ticket.Priority", 1)
	if err := os.WriteFile(filepath.Join(broken, "support_draft", "v1.md"), []byte(bad), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		args     []string
		exit     int
		stdout   []string
		errorHas string
	}{
		{"list", []string{"prompts", "list"}, 0, []string{"TASK", "support_draft", "v1", v1.Hash, "gpt-4o-mini"}, ""},
		{"show latest", []string{"prompts", "show", "support_draft"}, 0,
			[]string{"hash:", v1.Hash, "input budget:", "4000 tokens", "== system template", "{{ .Canary }}", "rendered for ticket T-SAMPLE", "GW-CANARY-7f3a9c", "<ticket_data>"}, ""},
		{"show a saved ticket", []string{"prompts", "show", "--ticket", "../../testdata/tickets/16-french-login.json", "support_draft", "v1"}, 0,
			[]string{"rendered for ticket T-1016", "Language: fr"}, ""},
		{"show unknown version", []string{"prompts", "show", "support_draft", "v99"}, 2, nil, "not found"},
		{"show without task", []string{"prompts", "show"}, 2, nil, "TASK"},
		{"lint built-in", []string{"prompts", "lint"}, 0, []string{"ok: the built-in prompts pass lint"}, ""},
		{"lint broken folder", []string{"prompts", "lint", "--prompts-dir", broken}, 1,
			[]string{"support_draft/v1.md: user template reads .Ticket.Priority", `uses lists "channel", but no template reads it`, "fail on a sample ticket"}, "3 problems"},
		{"unknown action", []string{"prompts", "dance"}, 2, nil, "unknown action"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			err := run(ctx, tt.args, noEnv, strings.NewReader(""), &stdout, &stderr)
			if got := exitCode(err, &stderr); got != tt.exit {
				t.Errorf("exit code %d (err %v), want %d", got, err, tt.exit)
			}
			for _, want := range tt.stdout {
				if !strings.Contains(stdout.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
				}
			}
			if tt.errorHas != "" && (err == nil || !strings.Contains(err.Error(), tt.errorHas)) {
				t.Errorf("error %v, want it to mention %q", err, tt.errorHas)
			}
		})
	}
}
