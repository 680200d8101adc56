// Package prompts owns the versioned prompt files (prompts/<task>/<version>.md:
// front matter with the model settings and output schema, then the system and
// user templates) and the loader that parses and renders them. It must not
// call a model.
package prompts

import (
	"bytes"
	"cmp"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"text/template"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// Embedded holds the prompt files built into the binary.
//
//go:embed */*.md
var Embedded embed.FS

// ErrNotFound is returned by Set.Get for an unknown task or version.
var ErrNotFound = errors.New("prompts: not found")

// Settings are the model settings a prompt asks for.
type Settings struct {
	Name        string  `yaml:"name"`
	Temperature float32 `yaml:"temperature"`
	MaxTokens   int     `yaml:"max_tokens"`
	// MaxTokensCap bounds the one retry with more room after an answer
	// was cut at MaxTokens; it defaults to MaxTokens (no such retry).
	MaxTokensCap int `yaml:"max_tokens_cap"`
}

// Prompt is one parsed, immutable prompt version. Safe for concurrent use.
type Prompt struct {
	Task        string
	Version     string
	Description string
	Model       Settings
	// SchemaName and OutputSchema describe the structured answer the model
	// must give; OutputSchema is a JSON Schema document.
	SchemaName   string
	OutputSchema json.RawMessage
	// MaxDraftChars fails longer drafts; zero means no limit.
	MaxDraftChars int
	// Canary is a marker the system prompt carries and no draft may
	// repeat: a draft that does leaked the system prompt.
	Canary string

	output *jsonschema.Schema
	system *template.Template
	user   *template.Template
}

// Input is what a prompt is rendered from. Ticket.Body is the cleaned text.
type Input struct {
	Ticket schemas.TicketCreated
	// Canary is set by Render from the prompt's front matter.
	Canary string
}

// Rendered is a prompt ready to send.
type Rendered struct {
	System string
	User   string
}

// Render fills the templates. The ticket's text only ever reaches the
// prompt through the untrusted function, which delimits it.
func (p *Prompt) Render(in Input) (Rendered, error) {
	var sys, usr bytes.Buffer
	in.Canary = p.Canary
	if err := p.system.Execute(&sys, in); err != nil {
		return Rendered{}, fmt.Errorf("prompts.render %s/%s system: %w", p.Task, p.Version, err)
	}
	if err := p.user.Execute(&usr, in); err != nil {
		return Rendered{}, fmt.Errorf("prompts.render %s/%s user: %w", p.Task, p.Version, err)
	}
	return Rendered{System: strings.TrimSpace(sys.String()), User: strings.TrimSpace(usr.String())}, nil
}

// CheckOutput validates a model's answer against the output schema. The
// error names the failing location and is safe to show the model in a
// repair request; it never quotes the answer.
func (p *Prompt) CheckOutput(doc []byte) error {
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(doc))
	if err != nil {
		return errors.New("not a JSON document")
	}
	if err := p.output.Validate(v); err != nil {
		fe := schemas.FromValidation(err, "")
		return fmt.Errorf("does not match the output schema: %s: %s", cmp.Or(fe.Field, "/"), fe.Reason)
	}
	return nil
}

// Delimiters around untrusted ticket text in a rendered prompt.
const (
	UntrustedOpen  = "<ticket_data>"
	UntrustedClose = "</ticket_data>"
)

var delimiter = regexp.MustCompile(`(?i)<\s*/?\s*ticket_data\s*>`)

// Untrusted delimits text as data the model must not obey. Any delimiter
// inside the text is defused so the text cannot close the block early.
func Untrusted(text string) string {
	text = delimiter.ReplaceAllStringFunc(text, func(m string) string {
		return strings.NewReplacer("<", "‹", ">", "›").Replace(m)
	})
	return UntrustedOpen + "\n" + text + "\n" + UntrustedClose
}

// Set is every loaded prompt, by task and version. Safe for concurrent use.
type Set struct {
	prompts map[string]map[string]*Prompt
}

// Get returns a task's prompt version; an empty version means the latest.
func (s *Set) Get(task, version string) (*Prompt, error) {
	versions, ok := s.prompts[task]
	if !ok {
		return nil, fmt.Errorf("prompts.get task %q: %w", task, ErrNotFound)
	}
	if version == "" {
		return versions[latest(versions)], nil
	}
	p, ok := versions[version]
	if !ok {
		return nil, fmt.Errorf("prompts.get %s/%s: %w", task, version, ErrNotFound)
	}
	return p, nil
}

// Tasks lists the tasks that have at least one prompt, sorted.
func (s *Set) Tasks() []string {
	tasks := make([]string, 0, len(s.prompts))
	for t := range s.prompts {
		tasks = append(tasks, t)
	}
	sort.Strings(tasks)
	return tasks
}

func latest(versions map[string]*Prompt) string {
	best := ""
	for v := range versions {
		if best == "" || versionLess(best, v) {
			best = v
		}
	}
	return best
}

// versionLess orders "v2" before "v10"; non-numeric versions sort as text.
func versionLess(a, b string) bool {
	na, errA := strconv.Atoi(strings.TrimPrefix(a, "v"))
	nb, errB := strconv.Atoi(strings.TrimPrefix(b, "v"))
	if errA == nil && errB == nil {
		return na < nb
	}
	return a < b
}

// Load parses every <task>/<version>.md file of fsys. Any invalid file is
// an error naming it: a broken prompt must stop start-up, not a ticket.
func Load(fsys fs.FS) (*Set, error) {
	files, err := fs.Glob(fsys, "*/*.md")
	if err != nil {
		return nil, fmt.Errorf("prompts.load: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("prompts.load: no <task>/<version>.md files")
	}
	set := &Set{prompts: map[string]map[string]*Prompt{}}
	for _, name := range files {
		raw, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, fmt.Errorf("prompts.load %s: %w", name, err)
		}
		p, err := Parse(name, raw)
		if err != nil {
			return nil, err
		}
		task, version := path.Dir(name), strings.TrimSuffix(path.Base(name), ".md")
		if p.Task != task || p.Version != version {
			return nil, fmt.Errorf("prompts.load %s: front matter says %s/%s", name, p.Task, p.Version)
		}
		if set.prompts[task] == nil {
			set.prompts[task] = map[string]*Prompt{}
		}
		set.prompts[task][version] = p
	}
	return set, nil
}

type frontMatter struct {
	Task        string   `yaml:"task"`
	Version     string   `yaml:"version"`
	Description string   `yaml:"description"`
	Model       Settings `yaml:"model"`
	Canary      string   `yaml:"canary"`
	Output      struct {
		Name     string         `yaml:"name"`
		MaxChars int            `yaml:"max_chars"`
		Schema   map[string]any `yaml:"schema"`
	} `yaml:"output"`
}

var funcs = template.FuncMap{"untrusted": Untrusted}

// Parse reads one prompt file: front matter between "---" lines, then a
// "## system" and a "## user" section.
func Parse(name string, raw []byte) (*Prompt, error) {
	fail := func(format string, args ...any) (*Prompt, error) {
		return nil, fmt.Errorf("prompts.parse %s: "+format, append([]any{name}, args...)...)
	}
	text := strings.ReplaceAll(string(raw), "\r\n", "\n")
	if !strings.HasPrefix(text, "---\n") {
		return fail("missing front matter")
	}
	head, body, ok := strings.Cut(text[len("---\n"):], "\n---\n")
	if !ok {
		return fail("unterminated front matter")
	}
	var fm frontMatter
	dec := yaml.NewDecoder(strings.NewReader(head))
	dec.KnownFields(true)
	if err := dec.Decode(&fm); err != nil {
		return fail("front matter: %w", err)
	}
	switch {
	case fm.Task == "" || fm.Version == "":
		return fail("front matter needs task and version")
	case fm.Output.Name == "" || fm.Output.Schema == nil:
		return fail("front matter needs output.name and output.schema")
	case fm.Model.MaxTokens <= 0:
		return fail("model.max_tokens must be positive")
	case fm.Model.Temperature < 0 || fm.Model.Temperature > 2:
		return fail("model.temperature must be within 0..2")
	case fm.Model.MaxTokensCap != 0 && fm.Model.MaxTokensCap < fm.Model.MaxTokens:
		return fail("model.max_tokens_cap must be at least max_tokens")
	case fm.Output.MaxChars < 0:
		return fail("output.max_chars must not be negative")
	}
	if fm.Model.MaxTokensCap == 0 {
		fm.Model.MaxTokensCap = fm.Model.MaxTokens
	}
	schemaJSON, err := json.Marshal(fm.Output.Schema)
	if err != nil {
		return fail("output schema: %w", err)
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(schemaJSON))
	if err != nil {
		return fail("output schema: %w", err)
	}
	c := jsonschema.NewCompiler()
	url := "mem://prompts/" + name + ".output.json"
	if err := c.AddResource(url, doc); err != nil {
		return fail("output schema: %w", err)
	}
	compiled, err := c.Compile(url)
	if err != nil {
		return fail("output schema: %w", err)
	}
	sys, usr, err := sections(body)
	if err != nil {
		return fail("%w", err)
	}
	p := &Prompt{
		Task: fm.Task, Version: fm.Version, Description: fm.Description,
		Model: fm.Model, SchemaName: fm.Output.Name, OutputSchema: schemaJSON,
		MaxDraftChars: fm.Output.MaxChars, Canary: fm.Canary,
		output: compiled,
	}
	if p.system, err = template.New("system").Funcs(funcs).Option("missingkey=error").Parse(sys); err != nil {
		return fail("system template: %w", err)
	}
	if p.user, err = template.New("user").Funcs(funcs).Option("missingkey=error").Parse(usr); err != nil {
		return fail("user template: %w", err)
	}
	return p, nil
}

// sections splits the body at its "## system" and "## user" lines.
func sections(body string) (system, user string, err error) {
	const sysMark, userMark = "## system\n", "## user\n"
	body = "\n" + body
	i := strings.Index(body, "\n"+sysMark)
	j := strings.Index(body, "\n"+userMark)
	if i < 0 || j < 0 || j < i {
		return "", "", errors.New(`want a "## system" section, then a "## user" section`)
	}
	return body[i+1+len(sysMark) : j], body[j+1+len(userMark):], nil
}
