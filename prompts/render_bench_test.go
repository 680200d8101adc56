package prompts_test

import (
	"strings"
	"testing"

	"github.com/ghostwriter-ai/ghostwriter/prompts"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// BenchmarkRender renders support_draft v1 for a ticket of about 1 KB,
// the size of the saved tickets.
func BenchmarkRender(b *testing.B) {
	set, err := prompts.Load(prompts.Embedded)
	if err != nil {
		b.Fatal(err)
	}
	p, err := set.Get("support_draft", "v1")
	if err != nil {
		b.Fatal(err)
	}
	in := prompts.Input{Ticket: schemas.TicketCreated{
		TicketID: "T-1", TenantID: "acme", Subject: "Refund for a double charge",
		Body:         strings.Repeat("I was charged twice for my subscription this month, please refund one. ", 14),
		CustomerTier: "pro", Language: "en",
	}}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := p.Render(in); err != nil {
			b.Fatal(err)
		}
	}
}
