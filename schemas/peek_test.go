package schemas_test

import (
	"strings"
	"testing"

	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

func TestPeek(t *testing.T) {
	tests := []struct {
		name           string
		raw            string
		ticket, tenant string
		ok             bool
	}{
		{"valid event", string(js(envelopeMap())), "T-1001", "acme", true},
		{"unknown type", `{"type":"x","data":{"ticket_id":"T","tenant_id":"a"}}`, "T", "a", true},
		{"data only", `{"data":{"ticket_id":"T","tenant_id":"a","body":7}}`, "T", "a", true},
		{"duplicate keys, last wins", `{"data":{"ticket_id":"T","ticket_id":"U","tenant_id":"a"},"id":1,"id":2}`, "U", "a", true},
		{"ids of 256 bytes", `{"data":{"ticket_id":"` + strings.Repeat("t", 256) + `","tenant_id":"a"}}`, strings.Repeat("t", 256), "a", true},
		{"escaped id", `{"data":{"ticket_id":"T\u00e9","tenant_id":"a"}}`, "Té", "a", true},
		{"empty input", ``, "", "", false},
		{"not JSON", `ticket_id=T`, "", "", false},
		{"truncated", `{"data":{"ticket_id":"T","tenant_id":"a"`, "", "", false},
		{"trailing data", `{"data":{"ticket_id":"T","tenant_id":"a"}} {}`, "", "", false},
		{"invalid UTF-8 elsewhere", "{\"x\":\"\xff\",\"data\":{\"ticket_id\":\"T\",\"tenant_id\":\"a\"}}", "T", "a", true},
		{"invalid UTF-8 in an id", "{\"data\":{\"ticket_id\":\"T\xff\",\"tenant_id\":\"a\"}}", "", "", false},
		{"top-level array", `[{"data":{"ticket_id":"T","tenant_id":"a"}}]`, "", "", false},
		{"no data", `{"ticket_id":"T","tenant_id":"a"}`, "", "", false},
		{"data null", `{"data":null}`, "", "", false},
		{"data string", `{"data":"{\"ticket_id\":\"T\",\"tenant_id\":\"a\"}"}`, "", "", false},
		{"data case variant", `{"Data":{"ticket_id":"T","tenant_id":"a"}}`, "", "", false},
		{"ticket_id case variant", `{"data":{"TICKET_ID":"T","tenant_id":"a"}}`, "", "", false},
		{"missing tenant_id", `{"data":{"ticket_id":"T"}}`, "", "", false},
		{"empty ticket_id", `{"data":{"ticket_id":"","tenant_id":"a"}}`, "", "", false},
		{"numeric ticket_id", `{"data":{"ticket_id":1001,"tenant_id":"a"}}`, "", "", false},
		{"null tenant_id", `{"data":{"ticket_id":"T","tenant_id":null}}`, "", "", false},
		{"ticket_id too long", `{"data":{"ticket_id":"` + strings.Repeat("t", 257) + `","tenant_id":"a"}}`, "", "", false},
		{"control character", `{"data":{"ticket_id":"T\n1","tenant_id":"a"}}`, "", "", false},
		{"escaped NUL", `{"data":{"ticket_id":"T","tenant_id":"a\u0000"}}`, "", "", false},
		{"C1 control character", `{"data":{"ticket_id":"T\u0085","tenant_id":"a"}}`, "", "", false},
		{"deeply nested elsewhere", `{"x":` + nested(100000) + `,"data":{"ticket_id":"T","tenant_id":"a"}}`, "", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ticket, tenant, ok := schemas.Peek([]byte(tt.raw))
			if ticket != tt.ticket || tenant != tt.tenant || ok != tt.ok {
				t.Errorf("Peek = %q, %q, %v; want %q, %q, %v", ticket, tenant, ok, tt.ticket, tt.tenant, tt.ok)
			}
		})
	}
}
