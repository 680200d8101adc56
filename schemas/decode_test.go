package schemas_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// js marshals v for table rows; it panics because rows are built before a
// test runs.
func js(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// typed returns a valid envelope of typ carrying its sample data, after edit
// (if not nil) has changed the data.
func typed(typ string, edit func(data map[string]any)) []byte {
	var data map[string]any
	if err := json.Unmarshal(js(samples[typ]), &data); err != nil {
		panic(err)
	}
	if edit != nil {
		edit(data)
	}
	m := envelopeMap()
	m["type"] = typ
	m["dataschema"] = schemas.SchemaURL(typ)
	m["data"] = data
	return js(m)
}

// nested returns n arrays nested in each other.
func nested(n int) string {
	return strings.Repeat("[", n) + strings.Repeat("]", n)
}

// splice replaces the first occurrence of old in the JSON of m with new, to
// build documents a map cannot express (duplicate keys, invalid bytes).
func splice(m map[string]any, old, new string) []byte {
	b := js(m)
	if !bytes.Contains(b, []byte(old)) {
		panic("splice: " + old + " not found in " + string(b))
	}
	return bytes.Replace(b, []byte(old), []byte(new), 1)
}

func TestDecodeRejects(t *testing.T) {
	tests := []struct {
		name  string
		raw   []byte
		field string
	}{
		// Size, encoding and syntax.
		{"empty input", nil, ""},
		{"too large", js(withData("body", strings.Repeat("a", schemas.MaxEventBytes))), ""},
		{"invalid UTF-8 in value", splice(envelopeMap(), `"I was`, "\"I \xff was"), "/data/body"},
		{"invalid UTF-8 in key", splice(envelopeMap(), `"body"`, "\"bo\xc3dy\""), "/data/bo\uFFFDdy"},
		{"truncated UTF-8 in top-level value", splice(envelopeMap(), `"/product"`, "\"/pr\xe2\x82\""), "/source"},
		{"unpaired high surrogate escape", splice(envelopeMap(), `"I was`, `"I \ud800 was`), "/data/body"},
		{"unpaired low surrogate escape", splice(envelopeMap(), `"I was`, `"I \udc00 was`), "/data/body"},
		{"high surrogate escape then non-surrogate", splice(envelopeMap(), `"I was`, `"I \ud83d\u0041 was`), "/data/body"},
		{"high surrogate escape at end", splice(envelopeMap(), `"I was charged twice."`, `"I was \ud83d"`), "/data/body"},
		{"malformed JSON", []byte(`{"id":`), ""},
		{"trailing comma", splice(envelopeMap(), `"T-1001"}`, `"T-1001",}`), "/data"},
		{"trailing object", append(js(envelopeMap()), "{}"...), ""},
		{"trailing garbage", append(js(envelopeMap()), " x"...), ""},
		{"trailing envelope", append(js(envelopeMap()), js(envelopeMap())...), ""},
		{"top-level array", []byte(`[]`), ""},
		{"top-level null", []byte(`null`), ""},
		{"nested too deeply", js(with("ext", json.RawMessage(nested(40)))), "/ext" + strings.Repeat("/0", 31)},
		{"number too large", js(with("ext", json.RawMessage(`1e400`))), "/ext"},
		{"number with huge negative exponent", js(with("ext", json.RawMessage(`1e-1000000`))), "/ext"},
		{"number too long", js(with("ext", json.RawMessage("1"+strings.Repeat("0", 70)))), "/ext"},

		// Duplicate and case-variant keys.
		{"duplicate envelope key", splice(envelopeMap(), `"id":"evt-1"`, `"id":"evt-1","id":"evt-2"`), "/id"},
		{"case-variant envelope key", splice(envelopeMap(), `"id":"evt-1"`, `"id":"evt-1","ID":"evt-2"`), "/ID"},
		{"case variant of envelope key alone", splice(envelopeMap(), `"id":"evt-1"`, `"ID":"evt-1"`), "/ID"},
		{"mixed-case envelope key alone", splice(envelopeMap(), `"type":`, `"Type":`), "/Type"},
		{"duplicate data key", splice(envelopeMap(), `"ticket_id":"T-1001"`, `"ticket_id":"T-1001","ticket_id":"T-1002"`), "/data/ticket_id"},
		{"case-variant data key", splice(envelopeMap(), `"ticket_id":"T-1001"`, `"ticket_id":"T-1001","Ticket_ID":"T-1002"`), "/data/Ticket_ID"},
		{"case variant of data key alone", splice(envelopeMap(), `"ticket_id"`, `"TICKET_ID"`), "/data/TICKET_ID"},
		{"Unicode case-variant data key", splice(envelopeMap(), `"ticket_id":"T-1001"`, `"ticket_id":"T-1001","tic\u212aet_id":"x"`), "/data/tic\u212aet_id"},
		{"duplicate key in extension object", js(with("ext", json.RawMessage(`{"a":1,"a":2}`))), "/ext/a"},
		{"case-variant key in extension array", js(with("ext", json.RawMessage(`[1,{"ab":1,"aB":2}]`))), "/ext/1/aB"},

		// Envelope schema.
		{"missing specversion", js(with("specversion", del)), "/specversion"},
		{"missing id", js(with("id", del)), "/id"},
		{"missing source", js(with("source", del)), "/source"},
		{"missing type", js(with("type", del)), "/type"},
		{"missing time", js(with("time", del)), "/time"},
		{"missing data", js(with("data", del)), "/data"},
		{"wrong specversion", js(with("specversion", "0.3")), "/specversion"},
		{"id wrong type", js(with("id", 42)), "/id"},
		{"id empty", js(with("id", "")), "/id"},
		{"id too long", js(with("id", strings.Repeat("i", 257))), "/id"},
		{"source empty", js(with("source", "")), "/source"},
		{"type empty", js(with("type", "")), "/type"},
		{"subject empty", js(with("subject", "")), "/subject"},
		{"time not a timestamp", js(with("time", "yesterday")), "/time"},
		{"time without zone", js(with("time", "2025-03-01T12:00:00")), "/time"},
		{"time lower-case", js(with("time", "2025-03-01t12:00:00z")), "/time"},
		{"time impossible date", js(with("time", "2025-02-30T12:00:00Z")), "/time"},
		{"time leap second", js(with("time", "2016-12-31T23:59:60Z")), "/time"},
		{"time offset out of range", js(with("time", "2025-03-01T12:00:00+24:00")), "/time"},
		{"time wrong type", js(with("time", 1740830400)), "/time"},
		{"datacontenttype not JSON", js(with("datacontenttype", "text/plain")), "/datacontenttype"},
		{"dataschema not a URI", js(with("dataschema", "not a uri")), "/dataschema"},
		{"traceparent malformed", js(with("traceparent", "00-abc-def-01")), "/traceparent"},
		{"traceparent upper-case", js(with("traceparent", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01")), "/traceparent"},
		{"extension name too long", js(with("abcdefghijklmnopqrstu", "x")), "/abcdefghijklmnopqrstu"},
		{"extension name with underscore", js(with("my_ext", "x")), "/my_ext"},
		{"data_base64 instead of data", js(with("data_base64", "e30=")), "/data_base64"},
		{"data wrong type", js(with("data", "T-1001")), "/data"},
		{"data null", js(with("data", nil)), "/data"},
		{"unknown type", js(with("type", "ticket.deleted")), "/type"},

		// ticket.created.
		{"created missing ticket_id", js(withData("ticket_id", del)), "/data/ticket_id"},
		{"created missing tenant_id", js(withData("tenant_id", del)), "/data/tenant_id"},
		{"created missing body", js(withData("body", del)), "/data/body"},
		{"created ticket_id wrong type", js(withData("ticket_id", 1001)), "/data/ticket_id"},
		{"created ticket_id empty", js(withData("ticket_id", "")), "/data/ticket_id"},
		{"created ticket_id too long", js(withData("ticket_id", strings.Repeat("t", 257))), "/data/ticket_id"},
		{"created tenant_id too long", js(withData("tenant_id", strings.Repeat("t", 257))), "/data/tenant_id"},
		{"created body empty", js(withData("body", "")), "/data/body"},
		{"created body too long", js(withData("body", strings.Repeat("b", 262145))), "/data/body"},
		{"created unknown field", js(withData("priority", "high")), "/data/priority"},
		{"created subject wrong type", js(withData("subject", nil)), "/data/subject"},

		// ticket.draft_ready.
		{"ready missing usage", typed(schemas.TypeDraftReady, func(d map[string]any) { delete(d, "usage") }), "/data/usage"},
		{"ready missing replay_id", typed(schemas.TypeDraftReady, func(d map[string]any) { delete(d, "replay_id") }), "/data/replay_id"},
		{"ready missing input_tokens", typed(schemas.TypeDraftReady, func(d map[string]any) { d["usage"] = map[string]any{"output_tokens": 1} }), "/data/usage/input_tokens"},
		{"ready usage unknown field", typed(schemas.TypeDraftReady, func(d map[string]any) {
			d["usage"] = map[string]any{"input_tokens": 1, "output_tokens": 1, "cached_tokens": 1}
		}), "/data/usage/cached_tokens"},
		{"ready usage negative", typed(schemas.TypeDraftReady, func(d map[string]any) { d["usage"] = map[string]any{"input_tokens": -1, "output_tokens": 1} }), "/data/usage/input_tokens"},
		{"ready confidence above 1", typed(schemas.TypeDraftReady, func(d map[string]any) { d["confidence"] = 1.5 }), "/data/confidence"},
		{"ready confidence below 0", typed(schemas.TypeDraftReady, func(d map[string]any) { d["confidence"] = -0.1 }), "/data/confidence"},
		{"ready confidence wrong type", typed(schemas.TypeDraftReady, func(d map[string]any) { d["confidence"] = "high" }), "/data/confidence"},
		{"ready requires_review wrong type", typed(schemas.TypeDraftReady, func(d map[string]any) { d["requires_review"] = "true" }), "/data/requires_review"},
		{"ready unknown fallback", typed(schemas.TypeDraftReady, func(d map[string]any) { d["fallback"] = "magic" }), "/data/fallback"},
		{"ready negative cost", typed(schemas.TypeDraftReady, func(d map[string]any) { d["cost_microusd"] = -1 }), "/data/cost_microusd"},
		{"ready negative latency", typed(schemas.TypeDraftReady, func(d map[string]any) { d["latency_ms"] = -5 }), "/data/latency_ms"},
		{"ready fractional attempts", typed(schemas.TypeDraftReady, func(d map[string]any) { d["attempts"] = 1.5 }), "/data/attempts"},
		{"ready attempts written 1.0", typed(schemas.TypeDraftReady, func(d map[string]any) { d["attempts"] = json.RawMessage(`1.0`) }), "/data/attempts"},
		{"ready tokens written 1e3", typed(schemas.TypeDraftReady, func(d map[string]any) {
			d["usage"] = map[string]any{"input_tokens": json.RawMessage(`1e3`), "output_tokens": 1}
		}), "/data/usage/input_tokens"},
		{"ready cost beyond 2^53", typed(schemas.TypeDraftReady, func(d map[string]any) { d["cost_microusd"] = int64(1) << 60 }), "/data/cost_microusd"},
		{"ready replay_id wrong type", typed(schemas.TypeDraftReady, func(d map[string]any) { d["replay_id"] = nil }), "/data/replay_id"},

		// ticket.draft_failed.
		{"failed unknown error_code", typed(schemas.TypeDraftFailed, func(d map[string]any) { d["error_code"] = "oops" }), "/data/error_code"},
		{"failed missing retryable", typed(schemas.TypeDraftFailed, func(d map[string]any) { delete(d, "retryable") }), "/data/retryable"},
		{"failed negative attempts", typed(schemas.TypeDraftFailed, func(d map[string]any) { d["attempts"] = -1 }), "/data/attempts"},
		{"failed tenant_id empty", typed(schemas.TypeDraftFailed, func(d map[string]any) { d["tenant_id"] = "" }), "/data/tenant_id"},

		// ai.cost.
		{"cost empty outcome", typed(schemas.TypeCost, func(d map[string]any) { d["outcome"] = "" }), "/data/outcome"},
		{"cost missing call_id", typed(schemas.TypeCost, func(d map[string]any) { delete(d, "call_id") }), "/data/call_id"},
		{"cost negative output_tokens", typed(schemas.TypeCost, func(d map[string]any) { d["output_tokens"] = -1 }), "/data/output_tokens"},
		{"cost has ticket_id", typed(schemas.TypeCost, func(d map[string]any) { d["ticket_id"] = "T-1" }), "/data/ticket_id"},

		// ticket.reply_sent.
		{"sent missing final_text", typed(schemas.TypeReplySent, func(d map[string]any) { delete(d, "final_text") }), "/data/final_text"},
		{"sent draft_event_id wrong type", typed(schemas.TypeReplySent, func(d map[string]any) { d["draft_event_id"] = 7 }), "/data/draft_event_id"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := schemas.Decode(tt.raw)
			if err == nil {
				t.Fatalf("Decode accepted %.200s", tt.raw)
			}
			if !errors.Is(err, schemas.ErrInvalid) {
				t.Errorf("errors.Is(%v, ErrInvalid) = false", err)
			}
			var fe *schemas.FieldError
			if !errors.As(err, &fe) {
				t.Fatalf("error %v is not a *FieldError", err)
			}
			if fe.Field != tt.field {
				t.Errorf("Field = %q, want %q (%v)", fe.Field, tt.field, err)
			}
			if fe.Reason == "" {
				t.Errorf("empty Reason")
			}
		})
	}
}

func TestDecodeReasons(t *testing.T) {
	tests := []struct {
		name   string
		raw    []byte
		want   string
		absent string // must not appear in the message
	}{
		{"missing field", js(withData("ticket_id", del)), "schemas: /data/ticket_id: missing required field", ""},
		{"unknown type", js(with("type", "ticket.deleted")), "schemas: /type: unknown event type", ""},
		{"unknown field", js(withData("priority", "high")), "schemas: /data/priority: unknown field", ""},
		{"duplicate key", splice(envelopeMap(), `"id":"evt-1"`, `"id":"evt-1","id":"evt-2"`), "schemas: /id: duplicate key", ""},
		{"case variant", splice(envelopeMap(), `"id":"evt-1"`, `"id":"evt-1","Id":"x"`), "schemas: /Id: duplicate key (differs only in case)", ""},
		{"wrong type", js(withData("ticket_id", 3)), "schemas: /data/ticket_id: wrong type", ""},
		{"too large", js(withData("body", strings.Repeat("a", schemas.MaxEventBytes))), "schemas: document larger than", ""},
		{"no document text in reason", js(withData("body", strings.Repeat("secret ", 40000))), "schemas: /data/body: longer than 262144 characters", "secret"},
		{"no value in enum reason", typed(schemas.TypeDraftFailed, func(d map[string]any) { d["error_code"] = "secret" }), "schemas: /data/error_code: must be one of", "secret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := schemas.Decode(tt.raw)
			if err == nil {
				t.Fatal("Decode accepted the document")
			}
			if !strings.HasPrefix(err.Error(), tt.want) {
				t.Errorf("error = %q, want prefix %q", err, tt.want)
			}
			if tt.absent != "" && strings.Contains(err.Error(), tt.absent) {
				t.Errorf("error %q contains %q", err, tt.absent)
			}
		})
	}
}

func TestDecodeAccepts(t *testing.T) {
	minimal := envelopeMap()
	for _, k := range []string{"datacontenttype", "dataschema", "traceparent"} {
		delete(minimal, k)
	}
	tests := []struct {
		name string
		raw  []byte
		typ  string
	}{
		{"ticket.created", typed(schemas.TypeTicketCreated, nil), schemas.TypeTicketCreated},
		{"ticket.draft_ready", typed(schemas.TypeDraftReady, nil), schemas.TypeDraftReady},
		{"ticket.draft_failed", typed(schemas.TypeDraftFailed, nil), schemas.TypeDraftFailed},
		{"ai.cost", typed(schemas.TypeCost, nil), schemas.TypeCost},
		{"ticket.reply_sent", typed(schemas.TypeReplySent, nil), schemas.TypeReplySent},
		{"required attributes only", js(minimal), schemas.TypeTicketCreated},
		{"created required fields only", js(envelopeMap()), schemas.TypeTicketCreated},
		{"reply_sent without draft_event_id", typed(schemas.TypeReplySent, func(d map[string]any) { delete(d, "draft_event_id") }), schemas.TypeReplySent},
		{"extension attributes", js(with("partitionkey", "acme")), schemas.TypeTicketCreated},
		{"extension with digits", js(with("ext2", 7)), schemas.TypeTicketCreated},
		{"subject", js(with("subject", "T-1001")), schemas.TypeTicketCreated},
		{"time with offset", js(with("time", "2025-03-01T14:00:00+02:00")), schemas.TypeTicketCreated},
		{"time with nanoseconds", js(with("time", "2025-03-01T12:00:00.123456789Z")), schemas.TypeTicketCreated},
		{"id of 256 characters", js(with("id", strings.Repeat("é", 256))), schemas.TypeTicketCreated},
		{"surrogate pair escape", splice(envelopeMap(), `"I was`, `"I \ud83d\ude00 was`), schemas.TypeTicketCreated},
		{"escaped backslash before u", splice(envelopeMap(), `"I was`, `"I \\ud800 was`), schemas.TypeTicketCreated},
		{"body of 262144 characters", js(withData("body", strings.Repeat("b", 262144))), schemas.TypeTicketCreated},
		{"whitespace around document", append(append([]byte(" \n"), js(envelopeMap())...), "\n"...), schemas.TypeTicketCreated},
		{"empty replay_id", typed(schemas.TypeDraftReady, func(d map[string]any) { d["replay_id"] = "" }), schemas.TypeDraftReady},
		{"zero confidence and counts", typed(schemas.TypeDraftReady, func(d map[string]any) {
			d["confidence"] = 0
			d["usage"] = map[string]any{"input_tokens": 0, "output_tokens": 0}
			d["attempts"] = 0
		}), schemas.TypeDraftReady},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env, err := schemas.Decode(tt.raw)
			if err != nil {
				t.Fatalf("Decode: %v", err)
			}
			if env.Type != tt.typ {
				t.Errorf("Type = %q, want %q", env.Type, tt.typ)
			}
			if env.SpecVersion != "1.0" || env.ID == "" || env.Source == "" || env.Time.IsZero() {
				t.Errorf("envelope not filled in: %+v", env)
			}
			if !json.Valid(env.Data) || len(env.Data) == 0 || env.Data[0] != '{' {
				t.Errorf("Data = %q, want the raw data object", env.Data)
			}
		})
	}
}

func TestDecodeFields(t *testing.T) {
	raw := typed(schemas.TypeDraftReady, nil)
	env, err := schemas.Decode(raw)
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	want := schemas.Envelope{
		SpecVersion:     "1.0",
		ID:              "evt-1",
		Source:          "/product",
		Type:            schemas.TypeDraftReady,
		Time:            time.Date(2025, 3, 1, 12, 0, 0, 123e6, time.UTC),
		DataContentType: "application/json",
		DataSchema:      "https://ghostwriter.dev/schemas/ticket.draft_ready/v1.json",
		TraceParent:     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
	}
	got := env
	got.Data = nil
	if !got.Time.Equal(want.Time) {
		t.Errorf("Time = %v, want %v", got.Time, want.Time)
	}
	got.Time = want.Time
	if !reflect.DeepEqual(got, want) {
		t.Errorf("envelope = %+v, want %+v", got, want)
	}
	var data schemas.DraftReady
	if err := env.DecodeData(&data); err != nil {
		t.Fatalf("DecodeData: %v", err)
	}
	if data != sampleReady {
		t.Errorf("data = %+v, want %+v", data, sampleReady)
	}
}

func TestDecodeDataError(t *testing.T) {
	env, err := schemas.Decode(js(envelopeMap()))
	if err != nil {
		t.Fatalf("Decode: %v", err)
	}
	var n int
	err = env.DecodeData(&n)
	var te *json.UnmarshalTypeError
	if !errors.As(err, &te) {
		t.Errorf("DecodeData into *int: error %v, want a *json.UnmarshalTypeError", err)
	}
}
