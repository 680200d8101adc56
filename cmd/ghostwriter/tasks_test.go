package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

func TestReadTasks(t *testing.T) {
	tests := []struct {
		name    string
		config  string // "" for no config file
		want    []schemas.Task
		wantErr string
	}{
		{"no config file: the built-in tasks", "", schemas.BuiltinTasks(), ""},
		{"no tasks section: the built-in tasks", "concurrency: 4\n", schemas.BuiltinTasks(), ""},
		{"a built-in task by name", "tasks:\n  - name: triage\n", []schemas.Task{schemas.TaskTriage}, ""},
		{"a new task takes the defaults", "tasks:\n  - name: summary\n    prompt_version: v2\n",
			[]schemas.Task{{Name: "summary", Trigger: "ticket.created", Consumer: "ghostwriter-summary", PromptVersion: "v2",
				Ready: "ticket.summary_ready", Failed: "ticket.summary_failed"}}, ""},
		{"a result outside TICKETS", "tasks:\n  - name: summary\n    ready: summaries.ready\n", nil, "want ticket.<name>"},
		{"an unknown trigger", "tasks:\n  - name: summary\n    trigger: order.placed\n", nil, "only ticket.created"},
		{"two tasks on one consumer", "tasks:\n  - name: support_draft\n  - name: summary\n    consumer: ghostwriter-drafts\n", nil, "share the consumer"},
		{"a bad name", "tasks:\n  - name: Summary!\n", nil, "lower-case"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.config != "" {
				path = filepath.Join(t.TempDir(), "gw.yaml")
				if err := os.WriteFile(path, []byte(tt.config), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			got, err := readTasks(path)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err = %v, want it to mention %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tt.want) {
				t.Fatalf("tasks = %+v, want %+v", got, tt.want)
			}
			for i := range got {
				if got[i] != tt.want[i] {
					t.Errorf("task %d = %+v, want %+v", i, got[i], tt.want[i])
				}
			}
		})
	}
}

func TestRunTasksSelects(t *testing.T) {
	got, err := selectTasks(schemas.BuiltinTasks(), "triage")
	if err != nil || len(got) != 1 || got[0] != schemas.TaskTriage {
		t.Errorf("selectTasks(triage) = %+v, %v", got, err)
	}
	if _, err := selectTasks(schemas.BuiltinTasks(), "triage,summary"); err == nil || !strings.Contains(err.Error(), "summary") {
		t.Errorf("an unconfigured task was accepted: %v", err)
	}
}
