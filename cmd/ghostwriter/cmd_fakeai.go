package main

import (
	"context"
	"fmt"
	"net"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/ghostwriter-ai/ghostwriter/internal/fakeai"
)

// runFakeAI is a hidden dev subcommand: the fake OpenAI-compatible server
// the tests use, for trying ghostwriter's model path by hand.
func runFakeAI(ctx context.Context, args []string, env *environ) error {
	c := newCommand("fakeai", "", "Serve a fake OpenAI-compatible API (development only).", env.stderr)
	listen := c.flags.String("listen", "127.0.0.1:8089", "address to serve on")
	latency := c.flags.Duration("latency", 0, "delay before every answer")
	status := c.flags.Int("status", 0, "answer every request with this HTTP error status (e.g. 429, 503)")
	if err := c.parse(args, env.getenv); err != nil {
		return err
	}
	l, err := net.Listen("tcp", *listen)
	if err != nil {
		return usagef("--listen %s: %v", *listen, err)
	}
	s := fakeai.Serve(l)
	defer s.Close()
	s.SetDefault(func(req goopenai.ChatCompletionRequest) fakeai.Reply {
		return fakeai.Reply{Content: fakeai.ContentFor(req), Status: *status, Delay: *latency}
	})
	fmt.Fprintf(env.stderr, "fake OpenAI API at %s (try: ghostwriter run --demo --openai-base-url %s)\n", s.URL(), s.URL())
	<-ctx.Done()
	fmt.Fprintf(env.stderr, "served %d chat requests\n", s.Calls())
	return nil
}
