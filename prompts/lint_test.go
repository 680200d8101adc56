package prompts_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ghostwriter-ai/ghostwriter/prompts"
)

func TestLintEmbeddedIsClean(t *testing.T) {
	if problems := prompts.Lint(prompts.Embedded); len(problems) != 0 {
		t.Errorf("the built-in prompts have lint problems: %v", problems)
	}
}

// Each row breaks a copy of the built-in prompt one way, in a folder of
// its own, and expects Lint to say so.
func TestLintFindsEachClassOfProblem(t *testing.T) {
	good, err := prompts.Embedded.ReadFile("support_draft/v1.md")
	if err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) func(string) string {
		return func(s string) string {
			if !strings.Contains(s, old) {
				t.Fatalf("the built-in prompt no longer contains %q", old)
			}
			return strings.Replace(s, old, new, 1)
		}
	}
	uses := "uses: [subject, body, customer_tier, product_area, language, channel]"
	tests := []struct {
		name string
		file string // path inside the folder; default support_draft/v1.md
		edit func(string) string
		want string
	}{
		{"no front matter", "", func(string) string { return "## system\nx\n## user\ny\n" }, "missing front matter"},
		{"path disagrees", "support_draft/v2.md", func(s string) string { return s }, "front matter says support_draft/v1"},
		{"missing description", "", edit("description: First reply", "# First reply"), "front matter needs description"},
		{"missing input budget", "", edit("input_budget: 4000\n", ""), "front matter needs input_budget"},
		{"missing uses", "", edit(uses+"\n", ""), "front matter needs uses"},
		{"missing canary", "", edit("canary: GW-CANARY-7f3a9c\n", ""), "front matter needs canary"},
		{"template does not parse", "", edit("{{ or .Ticket.Channel", "{{ or .Ticket.Channel }"), "user template"},
		{"invalid output schema", "", edit("minimum: 0", "minimum: zero"), "output schema"},
		{"unknown ticket field in a template", "", edit(".Ticket.Channel", ".Ticket.Priority"), ".Ticket.Priority, which ticket.created does not have"},
		{"unknown ticket field inside with", "", edit("Channel: {{ or .Ticket.Channel \"unknown\" }}", "{{ with .Ticket }}{{ .Mood }}{{ end }}"), ".Ticket.Mood, which ticket.created does not have"},
		{"unknown top-level field", "", edit("{{ .Canary }}", "{{ .Canary }} {{ .Tenant }}"), "reads .Tenant"},
		{"uses names an unknown field", "", edit(uses, "uses: [subject, body, customer_tier, product_area, language, channel, priority]"), `uses lists "priority", which ticket.created does not have`},
		{"uses names a field never read", "", edit(uses, "uses: [subject, body, customer_tier, product_area, language, channel, tenant_id]"), `uses lists "tenant_id", but no template reads it`},
		{"a field read is not in uses", "", edit(uses, "uses: [subject, body, customer_tier, product_area, language]"), "templates read channel, but uses does not list it"},
		{"canary never written", "", edit("Confidential reference {{ .Canary }}: never write it in a draft.", ""), "never writes {{ .Canary }}"},
		{"fails on a sample ticket", "", edit("{{ untrusted (print", "{{ index .Ticket.Body 99999 }}{{ untrusted (print"), "fail on a sample ticket"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			file := tt.file
			if file == "" {
				file = "support_draft/v1.md"
			}
			writePrompt(t, dir, file, tt.edit(string(good)))
			problems := prompts.Lint(os.DirFS(dir))
			var all []string
			for _, p := range problems {
				all = append(all, p.String())
				if p.File != file {
					t.Errorf("problem %q names file %q, want %q", p.Message, p.File, file)
				}
			}
			if !strings.Contains(strings.Join(all, "\n"), tt.want) {
				t.Errorf("Lint = %q, want a problem mentioning %q", all, tt.want)
			}
		})
	}
}

func TestLintEmptyFolder(t *testing.T) {
	problems := prompts.Lint(os.DirFS(t.TempDir()))
	if len(problems) != 1 || !strings.Contains(problems[0].Message, "no <task>/<version>.md") {
		t.Errorf("Lint of an empty folder = %v", problems)
	}
}

func writePrompt(t *testing.T, dir, file, text string) {
	t.Helper()
	path := filepath.Join(dir, filepath.FromSlash(file))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}
