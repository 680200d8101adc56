package schemas_test

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// FuzzDecode checks that Decode and Peek never panic, that whatever Decode
// accepts Encode accepts too, and that the re-encoded event decodes to the
// same envelope.
func FuzzDecode(f *testing.F) {
	for _, typ := range schemas.Types() {
		f.Add(typed(typ, nil))
	}
	f.Add(js(with("partitionkey", "acme")))
	f.Add(js(with("time", "2025-03-01T14:00:00.5+02:00")))
	f.Add(splice(envelopeMap(), `"I was`, `"I \ud83d\ude00 <&> was`))
	f.Add(splice(envelopeMap(), `"id":"evt-1"`, `"id":"evt-1","ID":"evt-2"`))
	f.Add(splice(envelopeMap(), `"I was`, `"I \ud800 was`))
	f.Add(js(with("ext", json5())))
	f.Add([]byte(`{"data":{"ticket_id":"T","tenant_id":"a"}}`))
	f.Add([]byte(`{"data":{"ticket_id":"T","tenant_id":"a"`))
	f.Add([]byte("\xff"))
	f.Add([]byte(``))
	f.Fuzz(func(t *testing.T, raw []byte) {
		schemas.Peek(raw)
		env, err := schemas.Decode(raw)
		if err != nil {
			return
		}
		if env.Type == "" || len(env.Data) == 0 {
			t.Fatalf("Decode accepted an envelope without type or data: %+v", env)
		}
		if ticket, tenant, ok := schemas.Peek(raw); ok {
			var ids struct {
				TicketID string `json:"ticket_id"`
				TenantID string `json:"tenant_id"`
			}
			if err := env.DecodeData(&ids); err != nil {
				t.Fatalf("DecodeData: %v", err)
			}
			if ticket != ids.TicketID || tenant != ids.TenantID {
				t.Errorf("Peek = %q, %q; Decode says %q, %q", ticket, tenant, ids.TicketID, ids.TenantID)
			}
		}
		out, err := schemas.Encode(env)
		if err != nil {
			t.Fatalf("Encode rejected a decoded event: %v\ninput: %q", err, raw)
		}
		again, err := schemas.Decode(out)
		if err != nil {
			t.Fatalf("Decode rejected an encoded event: %v\nencoded: %q", err, out)
		}
		if !again.Time.Equal(env.Time) {
			t.Errorf("Time changed: %v, then %v", env.Time, again.Time)
		}
		var d1, d2 any
		if json.Unmarshal(env.Data, &d1) != nil || json.Unmarshal(again.Data, &d2) != nil || !reflect.DeepEqual(d1, d2) {
			t.Errorf("data changed: %s, then %s", env.Data, again.Data)
		}
		again.Time = env.Time
		again.Data, env.Data = nil, nil
		if !reflect.DeepEqual(again, env) {
			t.Errorf("envelope changed: %+v, then %+v", env, again)
		}
	})
}

// json5 is a nested extension value.
func json5() any {
	return map[string]any{"a": []any{1, "b", nil, true, map[string]any{"c": 2.5}}}
}
