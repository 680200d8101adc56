package schemas

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// plainSeeds are documents on both sides of the fast path's edge.
var plainSeeds = []string{
	`{"specversion":"1.0","id":"evt-1","source":"/product","type":"ticket.created","time":"2025-03-01T12:00:00Z","data":{"ticket_id":"T-1","tenant_id":"acme","body":"Grüße, 返金してください \u003cb\u003e"}}`,
	`{"a":[1,-0,0.5,-12.25,true,false,null,{"b":"c"},[]],"d":{}}`,
	`{"a":1,"a":2}`, `{"a":1,"A":2}`, `{"k":1,"\u212a":2}`, `{"tic\u212aet":1}`, `{"ſ":1,"s":2}`,
	`{"a":"\ud83d\ude00"}`, `{"a":"\ud800"}`, `{"a":"\udc00x"}`, `{"a":"\u00"}`, `{"a":"\x"}`,
	`{"a":1e400}`, `{"a":1E2}`, `{"a":01}`, `{"a":-}`, `{"a":1.}`, `{"a":.5}`, `{"a":+1}`,
	`{"a":` + strings.Repeat("9", 64) + `}`, `{"a":` + strings.Repeat("9", 65) + `}`,
	`{"a":1,}`, `[1,]`, `{"a" 1}`, `{"a":1}{}`, `{"a":1} x`, ` {"a":1} `, `"top"`, `12`, `null`, ``, ` `,
	`{"a":"line` + "\n" + `break"}`, "{\"a\":\"\xff\"}", "{\"\xc3\":1}",
	strings.Repeat("[", 32) + strings.Repeat("]", 32), strings.Repeat("[", 33) + strings.Repeat("]", 33),
	`{"a":tru}`, `{"a":nul}`, `{"a":true`, `{`, `[`, `"`,
}

// FuzzScanFastPath checks the one property the fast path must keep: what
// it accepts, the token-by-token scan accepts too.
func FuzzScanFastPath(f *testing.F) {
	for _, s := range plainSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if plainOK(raw) {
			if fe := scanTokens(raw, ""); fe != nil {
				t.Fatalf("fast path accepted what scan rejects (%v): %q", fe, raw)
			}
		}
	})
}

func TestScanFastPathTakesOrdinaryEvents(t *testing.T) {
	var docs [][]byte
	// Every saved ticket as the product would send it.
	files, err := filepath.Glob("../testdata/tickets/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("saved tickets: %v", err)
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		env, err := New(TypeTicketCreated, "/product", "evt-1", json.RawMessage(data))
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		raw, err := json.Marshal(env)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, raw)
	}
	for _, raw := range docs {
		if !plainOK(raw) {
			t.Errorf("an ordinary event takes the slow path: %.120s", raw)
		}
	}
	for _, s := range plainSeeds {
		if plainOK([]byte(s)) && scanTokens([]byte(s), "") != nil {
			t.Errorf("fast path accepted what scan rejects: %q", s)
		}
	}
	for _, s := range []string{`{"a":1,"a":2}`, `{"a":1,"A":2}`, `{"a":"\ud800"}`, `{"a":1e400}`, "{\"a\":\"\xff\"}",
		strings.Repeat("[", 33) + strings.Repeat("]", 33), `{"a":1} x`} {
		if plainOK([]byte(s)) {
			t.Errorf("fast path accepted %q", s)
		}
	}
}

func BenchmarkScan(b *testing.B) {
	raw := []byte(plainSeeds[0])
	b.Run("fast", func(b *testing.B) {
		for b.Loop() {
			if scan(raw, "") != nil {
				b.Fatal("rejected")
			}
		}
	})
	b.Run("tokens", func(b *testing.B) {
		for b.Loop() {
			if scanTokens(raw, "") != nil {
				b.Fatal("rejected")
			}
		}
	})
}
