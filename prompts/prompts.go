// Package prompts owns the versioned prompt files (prompts/<task>/<version>.md:
// front matter with the model settings and output schema, then the system and
// user templates) and the loader that parses and renders them. It must not
// call a model.
package prompts

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"text/template"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"go.yaml.in/yaml/v3"

	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// Embedded holds the prompt files built into the binary.
//
//go:embed */*.md */*.json
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
	// InputBudget is how many tokens the rendered prompt may take; zero
	// means the file does not say.
	InputBudget int
	// Uses lists the ticket.created data fields (JSON names) the templates
	// read; Lint checks it against the templates.
	Uses []string
	// Hash identifies the prompt's content: "sha256:" and the first 12 hex
	// digits of a SHA-256 over the templates, canary, model settings, input
	// budget and output schema. Two files with the same behaviour have the
	// same hash whatever their version or description; any edit that can
	// change an answer or how it is judged changes it.
	Hash string
	// SystemTemplate and UserTemplate are the template sources.
	SystemTemplate, UserTemplate string

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
	// Sized for the template text and the ticket's, so the buffers do
	// not grow step by step.
	sys.Grow(len(p.SystemTemplate) + len(p.Canary) + 64)
	usr.Grow(len(p.UserTemplate) + len(in.Ticket.Subject) + len(in.Ticket.Body) + 256)
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
	if fastOutput(p.OutputSchema).Valid(doc) {
		return nil // surely valid; the validator below says why an answer is not
	}
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

// fastOutputs holds the output schemas compiled for schemas' one-pass
// check, by their JSON: one per distinct schema, so the map cannot grow
// with traffic. Validating every answer with the JSON Schema validator
// alone cost 2% of the worker's CPU (make bench).
var fastOutputs = struct {
	sync.RWMutex
	m map[string]*schemas.FastSchema // nil: not compilable
}{m: map[string]*schemas.FastSchema{}}

func fastOutput(schema json.RawMessage) *schemas.FastSchema {
	fastOutputs.RLock()
	f, ok := fastOutputs.m[string(schema)] // no allocation for the key
	fastOutputs.RUnlock()
	if ok {
		return f
	}
	f = schemas.CompileFast(schema)
	fastOutputs.Lock()
	fastOutputs.m[string(schema)] = f
	fastOutputs.Unlock()
	return f
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
	if strings.IndexByte(text, '<') >= 0 { // every delimiter opens with one
		text = delimiter.ReplaceAllStringFunc(text, func(m string) string {
			return strings.NewReplacer("<", "‹", ">", "›").Replace(m)
		})
	}
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

// All returns every prompt, by task and then version, oldest first.
func (s *Set) All() []*Prompt {
	var all []*Prompt
	for _, task := range s.Tasks() {
		versions := make([]string, 0, len(s.prompts[task]))
		for v := range s.prompts[task] {
			versions = append(versions, v)
		}
		sort.Slice(versions, func(i, j int) bool { return versionLess(versions[i], versions[j]) })
		for _, v := range versions {
			all = append(all, s.prompts[task][v])
		}
	}
	return all
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
		p, err := ParseFS(fsys, name, raw)
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
	InputBudget int      `yaml:"input_budget"`
	Uses        []string `yaml:"uses"`
	Output      struct {
		Name     string         `yaml:"name"`
		MaxChars int            `yaml:"max_chars"`
		Schema   map[string]any `yaml:"schema"`
		// SchemaFile names a JSON Schema file beside the prompt file,
		// instead of an inline schema.
		SchemaFile string `yaml:"schema_file"`
	} `yaml:"output"`
}

var funcs = template.FuncMap{"untrusted": Untrusted}

// Parse reads one prompt file: front matter between "---" lines, then a
// "## system" and a "## user" section. A file whose output schema is a
// schema_file needs its folder: use ParseFS.
func Parse(name string, raw []byte) (*Prompt, error) {
	return ParseFS(nil, name, raw)
}

// ParseFS is Parse for the file called name in fsys, which may name its
// output schema with output.schema_file: a JSON file in the same folder.
func ParseFS(fsys fs.FS, name string, raw []byte) (*Prompt, error) {
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
	err := dec.Decode(&fm)
	if err != nil {
		return fail("front matter: %w", err)
	}
	switch {
	case fm.Task == "" || fm.Version == "":
		return fail("front matter needs task and version")
	case fm.Output.Name == "" || (fm.Output.Schema == nil) == (fm.Output.SchemaFile == ""):
		return fail("front matter needs output.name and either output.schema or output.schema_file")
	case fm.Model.MaxTokens <= 0:
		return fail("model.max_tokens must be positive")
	case fm.Model.Temperature < 0 || fm.Model.Temperature > 2:
		return fail("model.temperature must be within 0..2")
	case fm.Model.MaxTokensCap != 0 && fm.Model.MaxTokensCap < fm.Model.MaxTokens:
		return fail("model.max_tokens_cap must be at least max_tokens")
	case fm.Output.MaxChars < 0:
		return fail("output.max_chars must not be negative")
	case fm.InputBudget < 0:
		return fail("input_budget must not be negative")
	}
	if fm.Model.MaxTokensCap == 0 {
		fm.Model.MaxTokensCap = fm.Model.MaxTokens
	}
	if fm.Output.SchemaFile != "" {
		if fm.Output.Schema, err = readSchemaFile(fsys, path.Join(path.Dir(name), fm.Output.SchemaFile)); err != nil {
			return fail("output.schema_file: %w", err)
		}
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
		InputBudget: fm.InputBudget, Uses: fm.Uses,
		SystemTemplate: sys, UserTemplate: usr,
		output: compiled,
	}
	p.Hash = contentHash(p)
	if p.system, err = template.New("system").Funcs(funcs).Option("missingkey=error").Parse(sys); err != nil {
		return fail("system template: %w", err)
	}
	if p.user, err = template.New("user").Funcs(funcs).Option("missingkey=error").Parse(usr); err != nil {
		return fail("user template: %w", err)
	}
	return p, nil
}

// readSchemaFile reads a JSON Schema file as the same plain values an
// inline schema parses into, so that both hash alike.
func readSchemaFile(fsys fs.FS, name string) (map[string]any, error) {
	if fsys == nil {
		return nil, errors.New("a schema file needs the prompt's folder")
	}
	raw, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	var schema map[string]any
	if err := json.Unmarshal(raw, &schema); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	return schema, nil
}

// contentHash is Prompt.Hash: what the model is asked (templates,
// canary, settings, budget) and how its answer is judged (output name,
// length limit and schema), in a fixed JSON encoding. The schema is
// re-encoded from the parsed YAML, so key order and YAML style do not
// count; the version, description and uses do not count either.
func contentHash(p *Prompt) string {
	doc := struct {
		System, User, Canary string
		Model                Settings
		InputBudget          int
		OutputName           string
		MaxChars             int
		Schema               json.RawMessage
	}{p.SystemTemplate, p.UserTemplate, p.Canary, p.Model, p.InputBudget, p.SchemaName, p.MaxDraftChars, p.OutputSchema}
	raw, err := json.Marshal(doc)
	if err != nil {
		panic("prompts: hashing a parsed prompt: " + err.Error()) // plain values: cannot fail
	}
	sum := sha256.Sum256(raw)
	return "sha256:" + hex.EncodeToString(sum[:])[:12]
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
