package consumers_test

import (
	"strings"
	"testing"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/consumers"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// Every class of bad input, published for real: its documented outcome,
// delivered once, no model call, and the next valid ticket still drafted.
func TestBadInputClasses(t *testing.T) {
	now := time.Now().UTC().Format(time.RFC3339)
	env := func(extra, data string) string {
		return `{"specversion":"1.0","id":"ID","source":"test","type":"ticket.created","time":"` + now + `"` + extra + `,"data":` + data + `}`
	}
	const ids = `"ticket_id":"T-9","tenant_id":"acme"`
	tests := []struct {
		name, raw  string
		wantDetail string
		// dead letters have no ticket to answer
		wantDead bool
		wantCode pipeline.Code
	}{
		{"malformed JSON", `{"specversion":"1.0",`, "invalid_json", true, ""},
		{"not an object", `[1,2,3]`, "not_a_cloudevent", true, ""},
		{"not a CloudEvent", `{"id":"ID","data":{` + ids + `,"body":"hi"}}`, "not_a_cloudevent", false, pipeline.CodeInvalidInput},
		{"wrong specversion", strings.Replace(env("", `{`+ids+`,"body":"hi"}`), `"1.0"`, `"0.3"`, 1), "unsupported_version", false, pipeline.CodeInvalidInput},
		{"unknown type", strings.Replace(env("", `{`+ids+`,"body":"hi"}`), `"ticket.created"`, `"ticket.exploded"`, 1), "unknown_type", false, pipeline.CodeInvalidInput},
		{"unsupported data schema version", env(`,"dataschema":"https://ghostwriter.dev/schemas/ticket.created/v9.json"`, `{`+ids+`,"body":"hi"}`), "unsupported_version", false, pipeline.CodeInvalidInput},
		{"missing body", env("", `{`+ids+`}`), "missing_field:body", false, pipeline.CodeInvalidInput},
		{"body of the wrong type", env("", `{`+ids+`,"body":42}`), "wrong_type:body", false, pipeline.CodeInvalidInput},
		{"missing tenant", env("", `{"ticket_id":"T-9","body":"hi"}`), "missing_field:tenant_id", true, ""},
		{"invalid UTF-8", env("", `{`+ids+`,"body":"caf`+"\xe9"+`"}`), "invalid_utf8", false, pipeline.CodeInvalidInput},
		{"duplicate key", env("", `{`+ids+`,"body":"a","body":"b"}`), "duplicate_key", false, pipeline.CodeInvalidInput},
		{"case-variant key", env("", `{`+ids+`,"body":"a","Body":"b"}`), "duplicate_key", false, pipeline.CodeInvalidInput},
		{"NUL character", env("", `{`+ids+`,"body":"hi\u0000there"}`), "control_characters", false, pipeline.CodeInvalidInput},
		{"empty body", env("", `{`+ids+`,"body":""}`), "invalid_field:body", false, pipeline.CodeInvalidInput},
		{"whitespace-only body", env("", `{`+ids+`,"body":"  \n\t "}`), "empty_body", false, pipeline.CodeInvalidInput},
		{"body over the limit", env("", `{`+ids+`,"body":"`+strings.Repeat("x", pipeline.DefaultMaxBodyBytes+1)+`"}`), "too_large", false, pipeline.CodeInvalidInput},
		{"stale ticket", strings.Replace(env("", `{`+ids+`,"body":"hi"}`), now, time.Now().Add(-time.Hour).UTC().Format(time.RFC3339), 1), "older than", false, pipeline.CodeExpired},
	}
	h := newHarness(t)
	model := &countingModel{}
	h.startWorker(model, 4)
	for i, tt := range tests {
		id := "bad-" + string(rune('a'+i))
		h.publishRaw(schemas.TypeTicketCreated, []byte(strings.Replace(tt.raw, `"ID"`, `"`+id+`"`, 1)))
	}
	good := h.publishTicket("", refund)
	h.waitFor("the good ticket's draft", 10*time.Second, func() bool { return len(h.terminal()[good]) == 1 })
	h.settled(10 * time.Second)

	results := h.terminal()
	dead := h.deadLetters()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			id := "bad-" + string(rune('a'+i))
			if tt.wantDead {
				if d, ok := dead[tt.wantDetail]; !ok || d == 0 {
					t.Errorf("no dead letter with detail %s (have %v)", tt.wantDetail, dead)
				}
				if len(results[id]) != 0 {
					t.Errorf("a dead letter also got a result")
				}
				return
			}
			res := results[id]
			if len(res) != 1 || res[0].Type != schemas.TypeDraftFailed {
				t.Fatalf("%d results, want one draft_failed", len(res))
			}
			var f schemas.DraftFailed
			if err := res[0].DecodeData(&f); err != nil {
				t.Fatal(err)
			}
			if f.ErrorCode != string(tt.wantCode) || !strings.HasPrefix(f.ErrorDetail, tt.wantDetail) || f.Retryable || f.TicketID != "T-9" {
				t.Errorf("failed event %+v, want %s / %s", f, tt.wantCode, tt.wantDetail)
			}
		})
	}
	if n := model.calls.Load(); n != 1 {
		t.Errorf("model calls %d, want 1 (the good ticket only)", n)
	}
	if c := h.consumerInfo(); c.NumRedelivered != 0 {
		t.Errorf("%d messages were redelivered; bad input must be decided on its first delivery", c.NumRedelivered)
	}
}

// An operator lists dead letters and re-drives one: the original bytes go
// back on their subject, are judged anew (here: dead again), and the old
// letter leaves GHOSTWRITER_DLQ.
func TestDeadLettersListAndRedrive(t *testing.T) {
	h := newHarness(t)
	h.startWorker(&countingModel{}, 1)
	h.publishRaw(schemas.TypeTicketCreated, []byte("not json"))
	h.waitFor("a dead letter", 5*time.Second, func() bool { return len(h.deadLetters()) == 1 })

	letters, err := consumers.DeadLetters(h.ctx, h.js, 0, 10)
	if err != nil || len(letters) != 1 {
		t.Fatalf("letters %v, %v", letters, err)
	}
	d := letters[0]
	if d.Subject != schemas.TypeTicketCreated || d.Detail != "invalid_json" || d.SourceStream != schemas.StreamTickets || d.Size != len("not json") {
		t.Errorf("dead letter %+v", d)
	}
	if err := consumers.Redrive(h.ctx, h.js, d.Seq); err != nil {
		t.Fatal(err)
	}
	h.waitFor("the re-driven message to be judged again", 5*time.Second, func() bool {
		l, err := consumers.DeadLetters(h.ctx, h.js, 0, 10)
		return err == nil && len(l) == 1 && l[0].Seq != d.Seq
	})
	again, _ := consumers.DeadLetters(h.ctx, h.js, 0, 10)
	if again[0].SourceSeq == d.SourceSeq || again[0].Detail != d.Detail {
		t.Errorf("after redrive %+v, want a new source sequence and the same detail", again[0])
	}
}
