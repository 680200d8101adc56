// Package eval owns the saved examples of an AI task and how they are
// judged: the case format (one JSON file per case), the assertions, the
// runner that takes every case through a pipeline.Pipeline, the recorded
// model that answers from what a model once said, and the report. It may
// use pipeline, prompts and schemas; it must not import NATS or Postgres
// clients: an eval publishes nothing and bills no one.
package eval

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// OutcomeReady is the outcome of a case that ends in ticket.draft_ready;
// any other outcome is the error code of its ticket.draft_failed.
const OutcomeReady = "draft_ready"

// Case is one saved example: an input event and what must hold of the
// result. It is one JSON file, <name>.json, in a task's case folder.
type Case struct {
	// Name is the file's name without .json.
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	// Event is a ticket.created data object or a whole CloudEvents
	// envelope; either is checked against the contract as the drafts
	// consumer checks it. An envelope's time is not used: see Age.
	Event json.RawMessage `json:"event"`
	// Age is how long after its creation the ticket is picked up, as a Go
	// duration ("20m"); empty means at once.
	Age    string     `json:"age,omitempty"`
	Assert Assertions `json:"assert"`
	// ExpectFail marks a case whose recorded answer is known to be bad:
	// against the recorded model it must fail, for ExpectFailReason; a
	// pass is then a failure of the gate. Other models ignore the mark.
	ExpectFail       bool   `json:"expect_fail,omitempty"`
	ExpectFailReason string `json:"expect_fail_reason,omitempty"`

	age time.Duration
}

// LoadCases reads every *.json file of dir (not its subfolders) as a
// Case, sorted by name. Unknown keys, a name that is not the file's, an
// assertion that cannot hold, or an expect_fail without its reason are
// errors naming the file; all of them are reported at once.
func LoadCases(dir string) ([]Case, error) {
	files, err := filepath.Glob(filepath.Join(dir, "*.json"))
	if err != nil {
		return nil, fmt.Errorf("eval.load %s: %w", dir, err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("eval.load %s: no case files (*.json)", dir)
	}
	var cases []Case
	var errs []error
	for _, f := range files {
		c, err := readCase(f)
		if err != nil {
			errs = append(errs, fmt.Errorf("eval.load %s: %w", f, err))
			continue
		}
		cases = append(cases, c)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	sort.Slice(cases, func(i, j int) bool { return cases[i].Name < cases[j].Name })
	return cases, nil
}

func readCase(file string) (Case, error) {
	raw, err := os.ReadFile(file)
	if err != nil {
		return Case{}, err
	}
	var c Case
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Case{}, err
	}
	if want := strings.TrimSuffix(filepath.Base(file), ".json"); c.Name != want {
		return Case{}, fmt.Errorf("name %q, want the file's name %q", c.Name, want)
	}
	return c, c.validate()
}

func (c *Case) validate() error {
	var errs []error
	if len(bytes.TrimSpace(c.Event)) == 0 || string(bytes.TrimSpace(c.Event)) == "null" {
		errs = append(errs, errors.New("event is missing"))
	}
	if c.Age != "" {
		d, err := time.ParseDuration(c.Age)
		if err != nil || d < 0 {
			errs = append(errs, fmt.Errorf("age %q: want a duration such as 20m", c.Age))
		}
		c.age = d
	}
	if c.ExpectFail && strings.TrimSpace(c.ExpectFailReason) == "" {
		errs = append(errs, errors.New("expect_fail needs expect_fail_reason"))
	}
	if !c.ExpectFail && c.ExpectFailReason != "" {
		errs = append(errs, errors.New("expect_fail_reason without expect_fail"))
	}
	if err := c.Assert.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Assertions are what must hold of a case's result. The output event
// always validates against the contract (schema_valid); every other
// assertion applies when set. The outcome is draft_ready unless Outcome
// says otherwise.
type Assertions struct {
	// SchemaValid is always checked; a file may say so with true.
	SchemaValid *bool `json:"schema_valid,omitempty"`
	// Outcome is draft_ready or an error code (invalid_input, ...).
	Outcome string `json:"outcome,omitempty"`
	// ErrorDetail is the failed event's exact error_detail.
	ErrorDetail string   `json:"error_detail,omitempty"`
	Reason      string   `json:"reason,omitempty"`
	ReasonIn    []string `json:"reason_in,omitempty"`
	// DraftContains and DraftNotContains match without regard to case.
	DraftContains    []string `json:"draft_contains,omitempty"`
	DraftNotContains []string `json:"draft_not_contains,omitempty"`
	// MaxLength bounds the draft, in characters.
	MaxLength int `json:"max_length,omitempty"`
	// NoRawPII: no email address, phone number or card number of the
	// ticket appears in the draft, however it is spaced.
	NoRawPII bool `json:"no_raw_pii,omitempty"`
	// NoCanary: the prompt's canary appears in no answer the model gave,
	// even one the pipeline rejected.
	NoCanary       bool     `json:"no_canary,omitempty"`
	ConfidenceMin  *float64 `json:"confidence_min,omitempty"`
	ConfidenceMax  *float64 `json:"confidence_max,omitempty"`
	RequiresReview *bool    `json:"requires_review,omitempty"`

	// The assertions below hold of any task's answer, by field name.
	// Equals: the field has exactly this value.
	Equals map[string]any `json:"equals,omitempty"`
	// OneOf: the field's value is one of these.
	OneOf map[string][]any `json:"one_of,omitempty"`
	// Contains: the field, a list, holds each value; or, a text, contains
	// each without regard to case. NotContains: none of them.
	Contains    map[string][]string `json:"contains,omitempty"`
	NotContains map[string][]string `json:"not_contains,omitempty"`
}

// outcome is the expected outcome.
func (a Assertions) outcome() string {
	if a.Outcome == "" {
		return OutcomeReady
	}
	return a.Outcome
}

// aboutDraft reports whether any assertion needs a draft.
func (a Assertions) aboutDraft() bool {
	return a.Reason != "" || len(a.ReasonIn) > 0 || len(a.DraftContains) > 0 || len(a.DraftNotContains) > 0 ||
		a.MaxLength > 0 || a.ConfidenceMin != nil || a.ConfidenceMax != nil || a.RequiresReview != nil ||
		len(a.Equals) > 0 || len(a.OneOf) > 0 || len(a.Contains) > 0 || len(a.NotContains) > 0
}

func (a Assertions) validate() error {
	var errs []error
	if a.SchemaValid != nil && !*a.SchemaValid {
		errs = append(errs, errors.New("schema_valid is always checked; it cannot be false"))
	}
	want := a.outcome()
	if want != OutcomeReady && !slices.Contains(pipeline.Codes, pipeline.Code(want)) {
		errs = append(errs, fmt.Errorf("outcome %q: want draft_ready or an error code", want))
	}
	if want == OutcomeReady && a.ErrorDetail != "" {
		errs = append(errs, errors.New("error_detail needs a failure outcome"))
	}
	if want != OutcomeReady && a.aboutDraft() {
		errs = append(errs, fmt.Errorf("outcome %s has no draft: drop the assertions about one", want))
	}
	if a.MaxLength < 0 {
		errs = append(errs, errors.New("max_length must not be negative"))
	}
	for _, c := range []*float64{a.ConfidenceMin, a.ConfidenceMax} {
		if c != nil && (*c < 0 || *c > 1) {
			errs = append(errs, errors.New("confidence bounds must be within 0..1"))
		}
	}
	if a.ConfidenceMin != nil && a.ConfidenceMax != nil && *a.ConfidenceMin > *a.ConfidenceMax {
		errs = append(errs, errors.New("confidence_min is above confidence_max"))
	}
	for field, values := range a.OneOf {
		if len(values) == 0 {
			errs = append(errs, fmt.Errorf("one_of %s lists no values", field))
		}
	}
	for field, v := range a.Equals {
		switch v.(type) {
		case string, float64, bool:
		default:
			errs = append(errs, fmt.Errorf("equals %s: want a text, number or boolean", field))
		}
	}
	return errors.Join(errs...)
}

// input reads the case's event as the task consumer reads a delivery: a
// whole envelope is decoded strictly, a data object is validated against
// ticket.created. An event that breaks the contract returns a
// *schemas.FieldError, whose Detail is the failed event's error_detail.
// The event id is the envelope's, or one made from the case name.
func (c Case) input() (eventID string, t schemas.TicketCreated, err error) {
	eventID = "eval-" + c.Name
	var probe map[string]json.RawMessage
	if json.Unmarshal(c.Event, &probe) == nil && probe["specversion"] != nil {
		env, err := schemas.Decode(c.Event)
		if err != nil {
			return eventID, t, err
		}
		if env.Type != schemas.TypeTicketCreated {
			return eventID, t, &schemas.FieldError{Kind: schemas.KindInvalidField, Field: "/type", Reason: "want " + schemas.TypeTicketCreated}
		}
		err = env.DecodeData(&t)
		return env.ID, t, err
	}
	if err := schemas.Validate(schemas.TypeTicketCreated, c.Event); err != nil {
		return eventID, t, err
	}
	err = json.Unmarshal(c.Event, &t)
	return eventID, t, err
}

// readable returns what a failed event could say of the ticket: its ids,
// when a lenient reading finds them. Without them the task consumer
// dead-letters the event instead.
func (c Case) readable() (ticketID, tenantID string) {
	var probe map[string]json.RawMessage
	if json.Unmarshal(c.Event, &probe) == nil && probe["specversion"] != nil {
		id, tenant, _ := schemas.Peek(c.Event)
		return id, tenant
	}
	id, tenant, _ := schemas.Peek([]byte(`{"data":` + string(c.Event) + `}`))
	return id, tenant
}
