package pipeline_test

import (
	"strings"
	"testing"

	"github.com/ghostwriter-ai/ghostwriter/pipeline"
)

// hostileBodies are inputs that once made a step quadratic; the
// benchmarks keep them in sight.
var hostileBodies = []string{
	strings.Repeat("x\n--\n", 5000),                    // bare signature delimiters
	strings.Repeat("1 ", 20000),                        // one endless run of digit groups
	strings.Repeat("confidentiality notice\n\n", 2000), // disclaimer paragraphs
	strings.Repeat("log line 2025-03-04T10:14:00.025Z ERROR code=SYNC-4090 from 10.1.2.3 via fe80::1\n", 2000),
}

func benchBodies(b *testing.B, name string, bodies []string, fn func(string)) {
	b.Run(name, func(b *testing.B) {
		n := 0
		for _, s := range bodies {
			n += len(s)
		}
		b.SetBytes(int64(n))
		b.ReportAllocs()
		for b.Loop() {
			for _, s := range bodies {
				fn(s)
			}
		}
	})
}

func ticketBodies(b *testing.B) []string {
	var out []string
	for _, s := range ticketSamples(b) {
		out = append(out, s.body)
	}
	return out
}

// BenchmarkCleanBody cleans every saved ticket body once per iteration
// (tickets), and a few hostile bodies (hostile).
func BenchmarkCleanBody(b *testing.B) {
	clean := func(s string) { pipeline.CleanBody(s, goldenMaxTokens) }
	benchBodies(b, "tickets", ticketBodies(b), clean)
	benchBodies(b, "hostile", hostileBodies, clean)
}

// BenchmarkMask masks every saved ticket body once per iteration with a
// fresh Masker per ticket, as the pipeline will (tickets), and a few
// hostile bodies (hostile).
func BenchmarkMask(b *testing.B) {
	mask := func(s string) { pipeline.NewMasker().Mask(s) }
	benchBodies(b, "tickets", ticketBodies(b), mask)
	benchBodies(b, "hostile", hostileBodies, mask)
}
