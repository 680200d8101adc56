package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// Task is what configuration says of an AI task: the events that start
// it, the durable consumer that reads them, the prompt it runs, and the
// event types of its result. A new task is a prompt file and a Task: no
// Go code.
type Task struct {
	// Name is the task's name and the folder of its prompts: prompts/<name>/.
	Name string `yaml:"name" json:"name"`
	// Trigger is the subject of the events that start it. Only
	// ticket.created is understood today.
	Trigger string `yaml:"trigger" json:"trigger"`
	// Consumer is its durable consumer on TICKETS; every task has its own.
	Consumer string `yaml:"consumer" json:"consumer"`
	// PromptVersion pins the prompt version; empty means the latest.
	PromptVersion string `yaml:"prompt_version" json:"prompt_version,omitempty"`
	// Ready and Failed are the event types (and subjects) of its terminal
	// events. A Ready type without a schema file gets one made of the
	// prompt's output schema and the fields every result carries (see
	// RegisterResult); every Failed type has ticket.draft_failed's data.
	Ready  string `yaml:"ready" json:"ready"`
	Failed string `yaml:"failed" json:"failed"`
}

// The built-in tasks: a reply draft and a triage.
var (
	TaskSupportDraft = Task{Name: "support_draft", Trigger: TypeTicketCreated, Consumer: ConsumerDrafts,
		Ready: TypeDraftReady, Failed: TypeDraftFailed}
	TaskTriage = Task{Name: "triage", Trigger: TypeTicketCreated, Consumer: "ghostwriter-triage",
		Ready: TypeTriaged, Failed: TypeTriageFailed}
)

// BuiltinTasks returns the tasks a worker runs when configuration names none.
func BuiltinTasks() []Task { return []Task{TaskSupportDraft, TaskTriage} }

var (
	taskName     = regexp.MustCompile(`^[a-z][a-z0-9_]{0,63}$`)
	consumerName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)
	resultType   = regexp.MustCompile(`^ticket\.[a-z][a-z0-9_]{0,63}$`)
)

// Validate checks one task on its own; ValidateTasks checks a set.
func (t Task) Validate() error {
	var errs []error
	if !taskName.MatchString(t.Name) {
		errs = append(errs, fmt.Errorf("name %q: want lower-case letters, digits and _", t.Name))
	}
	if t.Trigger != TypeTicketCreated {
		errs = append(errs, fmt.Errorf("trigger %q: only %s is understood", t.Trigger, TypeTicketCreated))
	}
	if !consumerName.MatchString(t.Consumer) {
		errs = append(errs, fmt.Errorf("consumer %q: want a durable name (letters, digits, - and _)", t.Consumer))
	}
	for _, typ := range []string{t.Ready, t.Failed} {
		switch {
		case !resultType.MatchString(typ):
			errs = append(errs, fmt.Errorf("result type %q: want ticket.<name>, a subject TICKETS stores", typ))
		case typ == TypeTicketCreated || typ == TypeReplySent:
			errs = append(errs, fmt.Errorf("result type %q is not a result", typ))
		}
	}
	if t.Ready == t.Failed {
		errs = append(errs, fmt.Errorf("ready and failed are both %q", t.Ready))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("task %s: %w", t.Name, err)
	}
	return nil
}

// ValidateTasks checks every task and that no two share a name, a
// consumer or a result type.
func ValidateTasks(tasks []Task) error {
	if len(tasks) == 0 {
		return errors.New("no tasks")
	}
	var errs []error
	seen := map[string]string{}
	claim := func(what, value, task string) {
		key := what + "\x00" + value
		if other, ok := seen[key]; ok {
			errs = append(errs, fmt.Errorf("tasks %s and %s share the %s %q", other, task, what, value))
			return
		}
		seen[key] = task
	}
	for _, t := range tasks {
		if err := t.Validate(); err != nil {
			errs = append(errs, err)
			continue
		}
		claim("name", t.Name, t.Name)
		claim("consumer", t.Consumer, t.Name)
		claim("result type", t.Ready, t.Name)
		claim("result type", t.Failed, t.Name)
	}
	return errors.Join(errs...)
}

// ResultFields are the fields ghostwriter adds to every task's answer in
// its ready event. Their definitions are those of ticket.draft_ready, the
// first task's event; an output schema must not define them, except
// requires_review, which the model may set and ghostwriter may only turn
// on.
var ResultFields = []string{
	"ticket_id", "tenant_id", "source_event_id", "task", "requires_review", "model", "provider", "route",
	"prompt_version", "prompt_hash", "usage", "cost_microusd", "latency_ms", "attempts", "fallback", "replay_id",
}

// registered holds the result types RegisterResult added: copy on write,
// so that validation on the hot path reads it without a lock.
var (
	registerMu sync.Mutex
	registered atomic.Pointer[map[string]registeredType]
)

type registeredType struct {
	schema *jsonschema.Schema
	// failed types decode into DraftFailed; ready types into a map.
	failed bool
	// output is the output schema a ready type was made from.
	output string
}

func dataSchema(typ string) (*jsonschema.Schema, bool) {
	if s, ok := dataSchemas[typ]; ok {
		return s, true
	}
	if m := registered.Load(); m != nil {
		if r, ok := (*m)[typ]; ok {
			return r.schema, true
		}
	}
	return nil, false
}

func registeredData(typ string) any {
	m := registered.Load()
	if m == nil {
		return nil
	}
	r, ok := (*m)[typ]
	switch {
	case !ok:
		return nil
	case r.failed:
		return new(DraftFailed)
	}
	return new(map[string]any)
}

// RegisterResult makes t's result types known to Validate, Decode and
// Encode. A Ready type with a schema file of its own is left as it is; any
// other gets a schema of the fields every result carries (ResultFields)
// and the properties of output, the prompt's output schema (a JSON object
// schema), with no other property allowed. A Failed type gets
// ticket.draft_failed's. Call it at start-up, once per task and prompt
// version; registering the same type again with the same output schema is
// a no-op, with another an error.
func RegisterResult(t Task, output json.RawMessage) error {
	if err := t.Validate(); err != nil {
		return fmt.Errorf("schemas.register: %w", err)
	}
	registerMu.Lock()
	defer registerMu.Unlock()
	next := map[string]registeredType{}
	if m := registered.Load(); m != nil {
		next = maps.Clone(*m)
	}
	if _, ok := dataSchemas[t.Failed]; !ok {
		if r, ok := next[t.Failed]; ok && !r.failed {
			return fmt.Errorf("schemas.register %s: already a ready type", t.Failed)
		}
		next[t.Failed] = registeredType{schema: dataSchemas[TypeDraftFailed], failed: true}
	}
	if _, ok := dataSchemas[t.Ready]; !ok {
		doc, err := resultSchema(t.Ready, output)
		if err != nil {
			return fmt.Errorf("schemas.register %s: %w", t.Ready, err)
		}
		key := string(output)
		if r, ok := next[t.Ready]; ok {
			if r.failed || r.output != key {
				return fmt.Errorf("schemas.register %s: already registered with another schema", t.Ready)
			}
		} else {
			c := newCompiler()
			if err := c.AddResource(schemaURL(t.Ready), doc); err != nil {
				return fmt.Errorf("schemas.register %s: %w", t.Ready, err)
			}
			sch, err := c.Compile(schemaURL(t.Ready))
			if err != nil {
				return fmt.Errorf("schemas.register %s: %w", t.Ready, err)
			}
			next[t.Ready] = registeredType{schema: sch, output: key}
		}
	}
	registered.Store(&next)
	return nil
}

// ResultSchema returns the data schema RegisterResult makes of a ready
// type and an output schema, as JSON: what to hand the product as the
// contract of a new task's event.
func ResultSchema(readyType string, output json.RawMessage) ([]byte, error) {
	doc, err := resultSchema(readyType, output)
	if err != nil {
		return nil, err
	}
	return json.MarshalIndent(doc, "", "  ")
}

func resultSchema(readyType string, output json.RawMessage) (map[string]any, error) {
	var out struct {
		Type       string                     `json:"type"`
		Required   []string                   `json:"required"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	if err := json.Unmarshal(output, &out); err != nil || out.Type != "object" || len(out.Properties) == 0 {
		return nil, errors.New("the output schema must be an object schema with properties")
	}
	var base struct {
		Required   []string                   `json:"required"`
		Properties map[string]json.RawMessage `json:"properties"`
	}
	raw, err := schemaFS.ReadFile(TypeDraftReady + ".v1.json")
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(raw, &base); err != nil {
		return nil, err
	}
	props := map[string]any{}
	var required []string
	for _, f := range ResultFields {
		props[f] = base.Properties[f]
		if slices.Contains(base.Required, f) {
			required = append(required, f)
		}
	}
	for name, p := range out.Properties {
		if slices.Contains(ResultFields, name) {
			if name != "requires_review" {
				return nil, fmt.Errorf("the output schema defines %q, a field ghostwriter sets", name)
			}
			continue
		}
		props[name] = p
	}
	for _, r := range out.Required {
		if !slices.Contains(required, r) {
			required = append(required, r)
		}
	}
	slices.Sort(required)
	doc := map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"$id":                  schemaURL(readyType),
		"title":                readyType + " data",
		"description":          "The answer of the task that publishes " + readyType + ", with the fields every result carries.",
		"type":                 "object",
		"required":             required,
		"properties":           props,
		"additionalProperties": false,
	}
	// Round-trip through the validator's own reader, as a schema file is.
	b, err := json.Marshal(doc)
	if err != nil {
		return nil, err
	}
	parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	m, _ := parsed.(map[string]any)
	return m, nil
}
