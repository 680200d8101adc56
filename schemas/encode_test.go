package schemas_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/schemas"
	"github.com/google/uuid"
)

func TestRoundTrip(t *testing.T) {
	for _, typ := range schemas.Types() {
		t.Run(typ, func(t *testing.T) {
			sample, ok := samples[typ]
			if !ok {
				t.Fatalf("no sample for %s", typ)
			}
			before := time.Now().UTC().Truncate(time.Millisecond)
			env, err := schemas.New(typ, "/ghostwriter", "", sample)
			if err != nil {
				t.Fatalf("New: %v", err)
			}
			env.Subject = "T-1001"
			env.TraceParent = schemas.NewTraceparent()
			raw, err := schemas.Encode(env)
			if err != nil {
				t.Fatalf("Encode: %v", err)
			}
			got, err := schemas.Decode(raw)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if !got.Time.Equal(env.Time) || got.Time.Before(before) {
				t.Errorf("Time = %v, want %v (not before %v)", got.Time, env.Time, before)
			}
			got.Time, env.Time = time.Time{}, time.Time{}
			if !reflect.DeepEqual(got, env) {
				t.Errorf("decoded %+v, want %+v", got, env)
			}
			data := reflect.New(reflect.TypeOf(sample))
			if err := got.DecodeData(data.Interface()); err != nil {
				t.Fatalf("DecodeData: %v", err)
			}
			if !reflect.DeepEqual(data.Elem().Interface(), sample) {
				t.Errorf("data = %+v, want %+v", data.Elem().Interface(), sample)
			}
		})
	}
}

func TestNew(t *testing.T) {
	env, err := schemas.New(schemas.TypeTicketCreated, "/product", "", sampleCreated)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	id, err := uuid.Parse(env.ID)
	if err != nil || id.Version() != 4 {
		t.Errorf("ID = %q, want a UUID v4 (%v)", env.ID, err)
	}
	if env.Time.Location() != time.UTC || env.Time.Nanosecond()%int(time.Millisecond) != 0 {
		t.Errorf("Time = %v, want UTC to the millisecond", env.Time)
	}
	if since := time.Since(env.Time); since < 0 || since > time.Minute {
		t.Errorf("Time = %v, want about now", env.Time)
	}
	want := schemas.Envelope{
		SpecVersion:     "1.0",
		ID:              env.ID,
		Source:          "/product",
		Type:            schemas.TypeTicketCreated,
		Time:            env.Time,
		DataContentType: "application/json",
		DataSchema:      "https://ghostwriter.dev/schemas/ticket.created/v1.json",
		Data:            mustJSON(t, sampleCreated),
	}
	if !reflect.DeepEqual(env, want) {
		t.Errorf("New = %+v, want %+v", env, want)
	}

	env, err = schemas.New(schemas.TypeTicketCreated, "/product", "evt-42", json.RawMessage(`{"ticket_id":"T","tenant_id":"a","body":"b"}`))
	if err != nil {
		t.Fatalf("New with raw data: %v", err)
	}
	if env.ID != "evt-42" {
		t.Errorf("ID = %q, want evt-42", env.ID)
	}
}

func TestNewRejects(t *testing.T) {
	tests := []struct {
		name  string
		typ   string
		data  any
		field string // "" means the error need not be a *FieldError
	}{
		{"unknown type", "ticket.deleted", sampleCreated, "/type"},
		{"invalid data", schemas.TypeDraftFailed, schemas.DraftFailed{TicketID: "T", TenantID: "a", ErrorCode: "oops"}, "/data/error_code"},
		{"zero data", schemas.TypeTicketCreated, schemas.TicketCreated{}, "/data/body"},
		{"data of another type", schemas.TypeTicketCreated, sampleCost, "/data/body"},
		{"unmarshalable data", schemas.TypeTicketCreated, make(chan int), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := schemas.New(tt.typ, "/ghostwriter", "", tt.data)
			if err == nil {
				t.Fatal("New succeeded")
			}
			if !strings.HasPrefix(err.Error(), "schemas.new: ") {
				t.Errorf("error %q lacks the schemas.new prefix", err)
			}
			if tt.field == "" {
				return
			}
			var fe *schemas.FieldError
			if !errors.Is(err, schemas.ErrInvalid) || !errors.As(err, &fe) {
				t.Fatalf("error %v is not an invalid-event *FieldError", err)
			}
			if fe.Field != tt.field {
				t.Errorf("Field = %q, want %q", fe.Field, tt.field)
			}
		})
	}
}

func TestEncodeRejects(t *testing.T) {
	valid := func() schemas.Envelope {
		env, err := schemas.New(schemas.TypeReplySent, "/product", "evt-1", sampleSent)
		if err != nil {
			t.Fatalf("New: %v", err)
		}
		return env
	}
	tests := []struct {
		name  string
		edit  func(*schemas.Envelope)
		field string
	}{
		{"zero envelope", func(e *schemas.Envelope) { *e = schemas.Envelope{} }, "/data"},
		{"unknown type", func(e *schemas.Envelope) { e.Type = "ticket.deleted" }, "/type"},
		{"no id", func(e *schemas.Envelope) { e.ID = "" }, "/id"},
		{"no source", func(e *schemas.Envelope) { e.Source = "" }, "/source"},
		{"wrong specversion", func(e *schemas.Envelope) { e.SpecVersion = "0.3" }, "/specversion"},
		{"wrong content type", func(e *schemas.Envelope) { e.DataContentType = "text/plain" }, "/datacontenttype"},
		{"bad traceparent", func(e *schemas.Envelope) { e.TraceParent = "not-a-traceparent" }, "/traceparent"},
		{"nil data", func(e *schemas.Envelope) { e.Data = nil }, "/data"},
		{"data of another type", func(e *schemas.Envelope) { e.Type = schemas.TypeCost }, "/data/call_id"},
		{"invalid data", func(e *schemas.Envelope) { e.Data = json.RawMessage(`{"ticket_id":"T","tenant_id":""}`) }, "/data/final_text"},
		{"duplicate data key", func(e *schemas.Envelope) {
			e.Data = json.RawMessage(`{"ticket_id":"T","ticket_id":"U","tenant_id":"a","final_text":"x"}`)
		}, "/data/ticket_id"},
		{"too large", func(e *schemas.Envelope) {
			e.Data = mustJSON(t, schemas.ReplySent{TicketID: "T", TenantID: "a", FinalText: strings.Repeat("x", schemas.MaxEventBytes)})
		}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := valid()
			tt.edit(&env)
			_, err := schemas.Encode(env)
			if err == nil {
				t.Fatal("Encode succeeded")
			}
			var fe *schemas.FieldError
			if !errors.Is(err, schemas.ErrInvalid) || !errors.As(err, &fe) {
				t.Fatalf("error %v is not an invalid-event *FieldError", err)
			}
			if fe.Field != tt.field {
				t.Errorf("Field = %q, want %q (%v)", fe.Field, tt.field, err)
			}
			if !strings.HasPrefix(err.Error(), "schemas.encode: ") {
				t.Errorf("error %q lacks the schemas.encode prefix", err)
			}
		})
	}
}

func TestEncodeMarshalError(t *testing.T) {
	env, err := schemas.New(schemas.TypeReplySent, "/product", "evt-1", sampleSent)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	env.Data = json.RawMessage(`{not json`)
	_, err = schemas.Encode(env)
	var me *json.MarshalerError
	if !errors.As(err, &me) {
		t.Errorf("Encode with broken Data: %v, want a *json.MarshalerError", err)
	}
}

func TestValidate(t *testing.T) {
	tests := []struct {
		name  string
		typ   string
		data  string
		field string
		ok    bool
	}{
		{"valid created", schemas.TypeTicketCreated, `{"ticket_id":"T","tenant_id":"a","body":"b"}`, "", true},
		{"valid cost", schemas.TypeCost, string(mustJSON(t, sampleCost)), "", true},
		{"unknown type", "nope", `{}`, "", false},
		{"missing field", schemas.TypeTicketCreated, `{"ticket_id":"T","tenant_id":"a"}`, "/body", false},
		{"unknown field", schemas.TypeReplySent, `{"ticket_id":"T","tenant_id":"a","final_text":"","x":1}`, "/x", false},
		{"nested missing field", schemas.TypeDraftReady, strings.Replace(string(mustJSON(t, sampleReady)), `"output_tokens":143`, `"outputtokens":143`, 1), "/usage/output_tokens", false},
		{"duplicate key", schemas.TypeTicketCreated, `{"ticket_id":"T","tenant_id":"a","body":"b","body":"c"}`, "/body", false},
		{"case-variant key", schemas.TypeTicketCreated, `{"ticket_id":"T","tenant_id":"a","body":"b","Body":"c"}`, "/Body", false},
		{"not an object", schemas.TypeTicketCreated, `"T"`, "", false},
		{"malformed", schemas.TypeTicketCreated, `{"ticket_id":`, "", false},
		{"trailing data", schemas.TypeTicketCreated, `{"ticket_id":"T","tenant_id":"a","body":"b"} 1`, "", false},
		{"invalid UTF-8", schemas.TypeTicketCreated, "{\"ticket_id\":\"T\",\"tenant_id\":\"a\",\"body\":\"\xff\"}", "/body", false},
		{"integer written as float", schemas.TypeCost, strings.Replace(string(mustJSON(t, sampleCost)), `"latency_ms":1200`, `"latency_ms":1200.0`, 1), "/latency_ms", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := schemas.Validate(tt.typ, []byte(tt.data))
			if tt.ok {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			var fe *schemas.FieldError
			if !errors.Is(err, schemas.ErrInvalid) || !errors.As(err, &fe) {
				t.Fatalf("error %v is not an invalid-event *FieldError", err)
			}
			if fe.Field != tt.field {
				t.Errorf("Field = %q, want %q (%v)", fe.Field, tt.field, err)
			}
		})
	}
}

func TestSchemaURLAndTypes(t *testing.T) {
	want := []string{
		schemas.TypeCost, schemas.TypeTicketCreated, schemas.TypeDraftFailed,
		schemas.TypeDraftReady, schemas.TypeReplySent, schemas.TypeTriaged, schemas.TypeTriageFailed,
	}
	slices.Sort(want)
	if got := schemas.Types(); !slices.Equal(got, want) {
		t.Errorf("Types() = %v, want %v", got, want)
	}
	schemas.Types()[0] = "mutated"
	if schemas.Types()[0] == "mutated" {
		t.Error("Types() returns shared state")
	}
	tests := []struct {
		name string
		typ  string
		want string
	}{
		{"created", schemas.TypeTicketCreated, "https://ghostwriter.dev/schemas/ticket.created/v1.json"},
		{"cost", schemas.TypeCost, "https://ghostwriter.dev/schemas/ai.cost/v1.json"},
		{"unknown", "ticket.deleted", ""},
		{"envelope is not an event type", "envelope", ""},
		{"empty", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := schemas.SchemaURL(tt.typ); got != tt.want {
				t.Errorf("SchemaURL(%q) = %q, want %q", tt.typ, got, tt.want)
			}
		})
	}
}

func TestFieldError(t *testing.T) {
	tests := []struct {
		name string
		err  *schemas.FieldError
		want string
	}{
		{"field", &schemas.FieldError{Field: "/data/ticket_id", Reason: "missing required field"}, "schemas: /data/ticket_id: missing required field"},
		{"whole document", &schemas.FieldError{Reason: "malformed JSON"}, "schemas: malformed JSON"},
		{"long field", &schemas.FieldError{Field: "/" + strings.Repeat("k", 1000), Reason: "unknown field"}, "schemas: /" + strings.Repeat("k", 199) + "...: unknown field"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.err.Error(); got != tt.want {
				t.Errorf("Error() = %q, want %q", got, tt.want)
			}
			if !errors.Is(tt.err, schemas.ErrInvalid) {
				t.Error("errors.Is(err, ErrInvalid) = false")
			}
			if errors.Is(tt.err, errors.New("schemas: invalid event")) {
				t.Error("errors.Is matches an unrelated error")
			}
		})
	}
}
