package main

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
	"github.com/ghostwriter-ai/ghostwriter/prompts"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// readTasks returns the tasks section of the config file, or the built-in
// tasks (support_draft and triage) when there is none. A task may leave
// out what has an obvious value: trigger ticket.created, consumer
// ghostwriter-<name>, results ticket.<name>_ready and ticket.<name>_failed;
// a built-in task's name alone brings its own values.
func readTasks(configPath string) ([]schemas.Task, error) {
	if configPath == "" {
		return schemas.BuiltinTasks(), nil
	}
	raw, err := os.ReadFile(configPath)
	if err != nil {
		return nil, usagef("config: %v", err)
	}
	var file struct {
		Tasks []schemas.Task `yaml:"tasks"`
	}
	if err := yaml.Unmarshal(raw, &file); err != nil {
		return nil, usagef("config %s: %v", configPath, err)
	}
	if file.Tasks == nil {
		return schemas.BuiltinTasks(), nil
	}
	tasks := make([]schemas.Task, len(file.Tasks))
	for i, t := range file.Tasks {
		tasks[i] = withTaskDefaults(t)
	}
	if err := schemas.ValidateTasks(tasks); err != nil {
		return nil, usagef("config %s: tasks: %v", configPath, err)
	}
	return tasks, nil
}

func withTaskDefaults(t schemas.Task) schemas.Task {
	def := schemas.Task{
		Trigger:  schemas.TypeTicketCreated,
		Consumer: "ghostwriter-" + strings.ReplaceAll(t.Name, "_", "-"),
		Ready:    "ticket." + t.Name + "_ready",
		Failed:   "ticket." + t.Name + "_failed",
	}
	for _, b := range schemas.BuiltinTasks() {
		if b.Name == t.Name {
			def = b
		}
	}
	for _, f := range []struct{ field, value *string }{
		{&t.Trigger, &def.Trigger}, {&t.Consumer, &def.Consumer}, {&t.Ready, &def.Ready}, {&t.Failed, &def.Failed},
	} {
		if *f.field == "" {
			*f.field = *f.value
		}
	}
	return t
}

// selectTasks keeps the tasks --run-tasks names (all when it names none).
func selectTasks(tasks []schemas.Task, names string) ([]schemas.Task, error) {
	if strings.TrimSpace(names) == "" {
		return tasks, nil
	}
	var out []schemas.Task
	for _, name := range strings.Split(names, ",") {
		name = strings.TrimSpace(name)
		i := slices.IndexFunc(tasks, func(t schemas.Task) bool { return t.Name == name })
		if i < 0 {
			return nil, usagef("no task %q is configured", name)
		}
		out = append(out, tasks[i])
	}
	return out, nil
}

// loadTasks loads the prompts and pairs each task with its prompt: the
// version the task pins, or the latest; --prompt-version pins
// support_draft's.
func (wc *workerConfig) loadTasks(configPath string) ([]consumers.Task, *prompts.Set, error) {
	set, err := wc.loadPrompts()
	if err != nil {
		return nil, nil, err
	}
	specs, err := readTasks(configPath)
	if err != nil {
		return nil, nil, err
	}
	if specs, err = selectTasks(specs, wc.tasks); err != nil {
		return nil, nil, err
	}
	tasks := make([]consumers.Task, len(specs))
	for i, s := range specs {
		version := s.PromptVersion
		if s.Name == schemas.TaskSupportDraft.Name && wc.promptVersion != "" {
			version = wc.promptVersion
		}
		p, err := set.Get(s.Name, version)
		if err != nil {
			return nil, nil, usageError{fmt.Errorf("task %s: %w", s.Name, err)}
		}
		if err := schemas.RegisterResult(s, p.OutputSchema); err != nil {
			return nil, nil, usageError{fmt.Errorf("task %s: %w", s.Name, err)}
		}
		tasks[i] = consumers.Task{Spec: s, Prompt: p}
	}
	return tasks, set, nil
}
