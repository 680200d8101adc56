package schemas

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fastSeedDocs are valid events of every type, as ghostwriter and a
// product write them: the saved tickets, and one fully populated event of
// each type.
func fastSeedDocs(t testing.TB) [][]byte {
	t.Helper()
	var docs [][]byte
	files, err := filepath.Glob("../testdata/tickets/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("saved tickets: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, fastEvent(t, TypeTicketCreated, json.RawMessage(data)))
	}
	for typ, data := range map[string]any{
		TypeDraftReady: DraftReady{TicketID: "T-1", TenantID: "acme", SourceEventID: "evt-1", Task: "support_draft",
			Draft: "Hi Maria,\n\nwe refunded the \"second\" charge. ✓", Confidence: 0.82, Reason: "refund", RequiresReview: true,
			Model: "gpt-4o-mini", Provider: "openai", Route: "default", PromptVersion: "v1", PromptHash: "sha256:ab",
			Usage: Usage{InputTokens: 812, OutputTokens: 143}, CostMicroUSD: 208, LatencyMS: 1530, Attempts: 2,
			Fallback: FallbackModel, ReplayID: "r-7"},
		TypeDraftFailed: DraftFailed{TicketID: "T-1", TenantID: "acme", SourceEventID: "evt-1", Task: "support_draft",
			ErrorCode: "rate_limited", ErrorDetail: "429", Retryable: true, Model: "m", PromptVersion: "v1", Attempts: 3, LatencyMS: 9000},
		TypeCost: Cost{CallID: "c-1", SourceEventID: "evt-1", Task: "support_draft", TenantID: "acme", Provider: "openai",
			Model: "m", PromptVersion: "v1", InputTokens: 1, OutputTokens: 2, CachedInputTokens: 1, CostMicroUSD: 3, LatencyMS: 4, Outcome: "ok"},
		TypeReplySent: ReplySent{TicketID: "T-1", TenantID: "acme", FinalText: "Done.", DraftEventID: "evt-2"},
		TypeTriaged: Triaged{TicketID: "T-1", TenantID: "acme", SourceEventID: "evt-1", Task: "triage", Department: "billing",
			Priority: "high", Labels: []string{"refund", "double-charge"}, Confidence: 0.8, Model: "m", Provider: "p",
			PromptVersion: "v1", Usage: Usage{InputTokens: 1, OutputTokens: 2}, Fallback: FallbackNone},
	} {
		docs = append(docs, fastEvent(t, typ, data))
	}
	return docs
}

func fastEvent(t testing.TB, typ string, data any) []byte {
	t.Helper()
	raw, err := json.Marshal(data)
	if err != nil {
		t.Fatal(err)
	}
	env := Envelope{SpecVersion: SpecVersion, ID: "evt-1", Source: "/product", Type: typ,
		Time: time.Date(2026, 12, 4, 23, 0, 0, 123e6, time.UTC), Subject: "T-1", DataContentType: "application/json",
		DataSchema: SchemaURL(typ), TraceParent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", Data: raw}
	out, err := json.Marshal(env)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// checkFastAgrees fails when the fast path accepts raw but the slow path
// (scan, JSON Schema, encoding/json, the Go types) does not, or decodes it
// differently. It reports whether the fast path accepted raw.
func checkFastAgrees(t testing.TB, raw []byte) bool {
	t.Helper()
	if !plainOK(raw) {
		return false
	}
	fast, ok := decodeFast(raw)
	if validFast(raw) != ok {
		t.Fatalf("validFast and decodeFast disagree on %q", raw)
	}
	if !ok {
		return false
	}
	slow, err := decodeSlow(raw)
	if err != nil {
		t.Fatalf("fast path accepted what Decode rejects (%v): %q", err, raw)
	}
	if !fast.Time.Equal(slow.Time) || fast.Time.Location().String() != slow.Time.Location().String() {
		t.Fatalf("time %v, slow path %v: %q", fast.Time, slow.Time, raw)
	}
	fast.Time, slow.Time = time.Time{}, time.Time{}
	if !reflect.DeepEqual(fast, slow) {
		t.Fatalf("fast path decoded\n%+v\nslow path\n%+v", fast, slow)
	}
	return true
}

func TestFastPathCompiles(t *testing.T) {
	if fastEnvelope == nil {
		t.Fatal("the envelope schema does not compile to the fast path: every event goes the slow way")
	}
	for _, typ := range types {
		if fastData[typ] == nil {
			t.Errorf("%s: its schema does not compile to the fast path", typ)
		}
	}
}

// TestFastPathGoTypes checks what lets the fast path skip checkGoType:
// every property of a data schema is a field of its Go type that takes
// what the schema allows (a string, an integer up to 2^53, a float64, a
// bool, a nested struct, a list of strings).
func TestFastPathGoTypes(t *testing.T) {
	var check func(path string, s *fastSchema, typ reflect.Type)
	check = func(path string, s *fastSchema, typ reflect.Type) {
		fields := map[string]reflect.Type{}
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			fields[name] = f.Type
		}
		for _, p := range s.props {
			ft, ok := fields[p.name]
			if !ok {
				t.Errorf("%s.%s: no Go field", path, p.name)
				continue
			}
			want := map[fastKind][]reflect.Kind{
				fastString: {reflect.String}, fastInteger: {reflect.Int, reflect.Int64}, fastNumber: {reflect.Float64},
				fastBoolean: {reflect.Bool}, fastObject: {reflect.Struct}, fastArray: {reflect.Slice},
			}[p.schema.kind]
			if !containsKind(want, ft.Kind()) {
				t.Errorf("%s.%s: Go %v for a schema of kind %d", path, p.name, ft, p.schema.kind)
			}
			// Arrays hold strings only (the one kind the event schemas
			// use in a list), into a []string.
			if p.schema.kind == fastArray && (p.schema.items.kind != fastString || ft.Elem().Kind() != reflect.String) {
				t.Errorf("%s.%s: Go %v for an array of kind %d", path, p.name, ft, p.schema.items.kind)
			}
			if p.schema.kind == fastObject && ft.Kind() == reflect.Struct {
				check(path+"."+p.name, p.schema, ft)
			}
		}
	}
	for typ, s := range fastData {
		check(typ, s, reflect.TypeOf(newData(typ)).Elem())
	}
}

func containsKind(ks []reflect.Kind, k reflect.Kind) bool {
	for _, x := range ks {
		if x == k {
			return true
		}
	}
	return false
}

// TestFastPathTakesOrdinaryEvents: the events the worker reads and writes
// take the fast path, and it decodes them as the slow path does.
func TestFastPathTakesOrdinaryEvents(t *testing.T) {
	for _, raw := range fastSeedDocs(t) {
		if !checkFastAgrees(t, raw) {
			t.Errorf("an ordinary event takes the slow path: %.160s", raw)
		}
	}
}

// fastMutations are values put in place of every property in turn: each
// kind, each side of each bound, formats and escapes.
var fastMutations = []any{
	del, nil, "", "x", "1.0", "none", "ok", "rate_limited", "application/json", "ticket.created", "ticket.draft_ready",
	"ticket\u002ecreated", "a\\b", "a\nb", "é", strings.Repeat("x", 80), strings.Repeat("x", 81), strings.Repeat("é", 128),
	strings.Repeat("x", 129), strings.Repeat("x", 256), strings.Repeat("é", 257), "2025-03-01T12:00:00Z",
	"2025-03-01T12:00:00.5+02:00", "2025-13-01T00:00:00Z", "2025-03-01 12:00:00Z", "2025-03-01T24:00:00Z",
	"https://ghostwriter.dev/schemas/ticket.created/v1.json", "https://ghostwriter.dev/schemas/ai.cost/v1.json", "not a uri",
	"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
	json.RawMessage(`0`), json.RawMessage(`-0`), json.RawMessage(`1`), json.RawMessage(`-1`), json.RawMessage(`0.5`),
	json.RawMessage(`1.0`), json.RawMessage(`1.000`), json.RawMessage(`1.0000000000000000001`), json.RawMessage(`0.99999999999999999999`),
	json.RawMessage(`-0.0`), json.RawMessage(`-0.00000000000000000001`), json.RawMessage(`2`), json.RawMessage(`1e0`),
	json.RawMessage(`9007199254740991`), json.RawMessage(`9007199254740992`), json.RawMessage(`99999999999999999999`),
	json.RawMessage(`true`), json.RawMessage(`false`), json.RawMessage(`{}`), json.RawMessage(`[]`),
	json.RawMessage(`{"input_tokens":1,"output_tokens":2}`), json.RawMessage(`{"input_tokens":1}`),
	json.RawMessage(`{"input_tokens":1,"output_tokens":2,"x":3}`), json.RawMessage(`{"input_tokens":1.5,"output_tokens":2}`),
	json.RawMessage(`{"ticket_id":"T","tenant_id":"a","body":"b"}`),
	// lists, for labels
	json.RawMessage(`["refund"]`), json.RawMessage(`["refund","refund"]`), json.RawMessage(`["refund","Refund"]`),
	json.RawMessage(`["a","b","c","d","e"]`), json.RawMessage(`["a","b","c","d","e","f"]`), json.RawMessage(`[1]`),
	json.RawMessage(`["ref\u0075nd","refund"]`), json.RawMessage(`[ "a" , "b" ]`), json.RawMessage(`["-a"]`),
	json.RawMessage(`[["a"]]`), json.RawMessage(`[null]`),
}

// TestFastPathNeverAcceptsInvalid puts every mutation in place of every
// property (and unknown and case-variant keys beside them) of every seed
// event, at the top and in data, and checks the fast path accepts only
// what the slow path accepts, decoded the same.
func TestFastPathNeverAcceptsInvalid(t *testing.T) {
	accepted, total := 0, 0
	try := func(doc map[string]any) {
		raw, err := json.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		total++
		if checkFastAgrees(t, raw) {
			accepted++
		}
	}
	for _, seed := range fastSeedDocs(t) {
		var top map[string]any
		if err := json.Unmarshal(seed, &top); err != nil {
			t.Fatal(err)
		}
		data := top["data"].(map[string]any)
		keys := func(m map[string]any) []string {
			out := []string{"extra", "Extra", "x1", "partitionkey", strings.Repeat("a", 21)}
			for k := range m {
				out = append(out, k, strings.ToUpper(k[:1])+k[1:])
			}
			return out
		}
		for _, k := range keys(top) {
			for _, v := range fastMutations {
				doc := cloneMap(top)
				setOrDelete(doc, k, v)
				try(doc)
			}
		}
		for _, k := range keys(data) {
			for _, v := range fastMutations {
				doc := cloneMap(top)
				d := cloneMap(data)
				setOrDelete(d, k, v)
				doc["data"] = d
				try(doc)
			}
		}
	}
	if accepted == 0 || accepted == total {
		t.Errorf("fast path accepted %d of %d mutations: the test exercises nothing", accepted, total)
	}
	t.Logf("fast path accepted %d of %d mutated events, all confirmed by the slow path", accepted, total)
}

func cloneMap(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func setOrDelete(m map[string]any, k string, v any) {
	if v == del {
		delete(m, k)
		return
	}
	m[k] = v
}

type deletedKey struct{}

var del any = deletedKey{}

// FuzzFastPath checks the fast path's one promise on any input: what it
// accepts, the slow path accepts and decodes the same.
func FuzzFastPath(f *testing.F) {
	for _, raw := range fastSeedDocs(f) {
		f.Add(raw)
	}
	for _, s := range plainSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		checkFastAgrees(t, raw)
		var typ struct {
			Type string          `json:"type"`
			Data json.RawMessage `json:"data"`
		}
		if json.Unmarshal(raw, &typ) == nil && validDataFast(typ.Type, typ.Data) {
			if fe := validateDataSlow(typ.Type, typ.Data, ""); fe != nil {
				t.Fatalf("fast path accepted data the slow path rejects (%v): %q", fe, typ.Data)
			}
		}
	})
}

// BenchmarkEncode encodes each seed event in turn: the saved tickets
// and one event of each other type, as the worker encodes its outputs.
func BenchmarkEncode(b *testing.B) {
	var envs []Envelope
	for _, raw := range fastSeedDocs(b) {
		env, err := Decode(raw)
		if err != nil {
			b.Fatal(err)
		}
		envs = append(envs, env)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, err := Encode(envs[i%len(envs)]); err != nil {
			b.Fatal(err)
		}
		i++
	}
}

func BenchmarkDecode(b *testing.B) {
	raw := fastSeedDocs(b)[0]
	b.Run("fast", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Decode(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("slow", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := decodeSlow(raw); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// nested is an object nested depth levels deep.
func nested(depth int) string {
	return strings.Repeat(`{"a":`, depth-1) + `{}` + strings.Repeat(`}`, depth-1)
}

// FuzzMarshalEnvelope checks marshalEnvelope writes what json.Marshal
// writes, and fails where it fails.
func FuzzMarshalEnvelope(f *testing.F) {
	for _, raw := range fastSeedDocs(f) {
		var env Envelope
		if err := json.Unmarshal(raw, &env); err != nil {
			f.Fatal(err)
		}
		f.Add(string(env.Data), env.ID, env.Subject, env.TraceParent)
	}
	for _, d := range []string{`{"a": 1}`, `{"a":"<b>"}`, `{"a":"\u2028"}`, "{\"a\":\"\u2028\"}", `{"a":"x\"y"}`, `{"a":"\\"}`,
		`{"a":1,"a":2}`, `[1, 2]`, ` {}`, `{}`, `nope`, ``, `{"a":"é & è"}`, "{\"a\":\"\xff\"}", `{"a":"\\\""}`, `{"DATA":1}`, `{"Id":"x"}`,
		nested(maxDepth - 1), nested(maxDepth), nested(maxDepth + 1)} {
		f.Add(d, "id <&>", "", "")
	}
	f.Fuzz(func(t *testing.T, data, id, subject, trace string) {
		env := Envelope{SpecVersion: SpecVersion, ID: id, Source: "/s", Type: TypeCost,
			Time: time.Date(2026, 12, 4, 23, 0, 0, 5e6, time.UTC), Subject: subject, TraceParent: trace, Data: json.RawMessage(data)}
		want, wantErr := json.Marshal(env)
		got, plain, err := marshalEnvelope(env)
		if (err != nil) != (wantErr != nil) {
			t.Fatalf("marshalEnvelope error %v, json.Marshal error %v", err, wantErr)
		}
		if string(got) != string(want) {
			t.Fatalf("marshalEnvelope wrote\n%s\njson.Marshal\n%s", got, want)
		}
		if plain && !plainOK(got) {
			t.Fatalf("marshalEnvelope says plain, plainOK refuses\n%s", got)
		}
	})
}

// FuzzDecodeTicketFast checks DecodeData's fast path for ticket.created
// against json.Unmarshal: the same ticket whenever it answers.
func FuzzDecodeTicketFast(f *testing.F) {
	for _, raw := range fastSeedDocs(f) {
		var env Envelope
		if err := json.Unmarshal(raw, &env); err != nil {
			f.Fatal(err)
		}
		f.Add([]byte(env.Data))
	}
	for _, s := range []string{`{}`, `{"body":"a\u00e9\n\t\"\\\/\b\f\r"}`, `{"Body":"x"}`, `{"body":1}`, `{"body":null}`,
		`{"ticket_id":"T","x":"y"}`, `{"body":"\u0000"}`, `{"body":"\ud83d\ude00"}`, ` {"body":"x"} `, `{"body":"x"}x`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var fast TicketCreated
		if !decodeTicketFast(data, &fast) {
			return
		}
		var slow TicketCreated
		if err := json.Unmarshal(data, &slow); err != nil {
			t.Fatalf("fast path decoded what json.Unmarshal rejects (%v): %q", err, data)
		}
		if fast != slow {
			t.Fatalf("fast path %+v, json.Unmarshal %+v: %q", fast, slow, data)
		}
	})
}
