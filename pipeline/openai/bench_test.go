package openai_test

import (
	"context"
	"encoding/json"
	"os"
	"syscall"
	"testing"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/internal/fakeai"
	"github.com/ghostwriter-ai/ghostwriter/pipeline"
	"github.com/ghostwriter-ai/ghostwriter/pipeline/openai"
	"github.com/ghostwriter-ai/ghostwriter/prompts"
	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// benchRequest is a support_draft call as the pipeline makes it for a
// saved ticket: the embedded prompt rendered, its output schema attached.
func benchRequest(b *testing.B) pipeline.Request {
	b.Helper()
	set, err := prompts.Load(prompts.Embedded)
	if err != nil {
		b.Fatal(err)
	}
	p, err := set.Get("support_draft", "")
	if err != nil {
		b.Fatal(err)
	}
	raw, err := os.ReadFile("../../testdata/tickets/04-api-500-stack-trace.json")
	if err != nil {
		b.Fatal(err)
	}
	var t schemas.TicketCreated
	if err := json.Unmarshal(raw, &t); err != nil {
		b.Fatal(err)
	}
	r, err := p.Render(prompts.Input{Ticket: t})
	if err != nil {
		b.Fatal(err)
	}
	return pipeline.Request{
		Model:       "gpt-4o-mini",
		Messages:    []pipeline.Message{{Role: "system", Content: r.System}, {Role: "user", Content: r.User}},
		Temperature: p.Model.Temperature, MaxTokens: p.Model.MaxTokens,
		SchemaName: p.SchemaName, Schema: p.OutputSchema, Input: t.Subject + "\n" + t.Body,
	}
}

// BenchmarkCompleteFake is one chat completion through go-openai against
// the fake server, both in this process: what the bench's HTTP scenario
// pays per ticket for its model call, client and server together.
func BenchmarkCompleteFake(b *testing.B) {
	fake := fakeai.New()
	defer fake.Close()
	fake.KeepRequests(false)
	c, err := openai.New(openai.Config{BaseURL: fake.URL()})
	if err != nil {
		b.Fatal(err)
	}
	req := benchRequest(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.SetParallelism(16) // the worker has tens of calls in flight
	cpu0 := cpuTime()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Complete(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(cpuTime()-cpu0)/float64(b.N), "cpu-ns/op")
}

// cpuTime is the process's user and system time so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
