package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/internal/embednats"
	"github.com/ghostwriter-ai/ghostwriter/internal/poll"
)

func TestUsage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"an unknown flag", []string{"--port", "1"}, nil},
		{"an argument", []string{"extra"}, nil},
		{"no timeout", []string{"--draft-timeout", "0s"}, nil},
		{"a bad timeout from the environment", nil, map[string]string{"SUPPORTDESK_DRAFT_TIMEOUT": "soon"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := run(context.Background(), tt.args, func(k string) string { return tt.env[k] }, io.Discard, io.Discard)
			if !errors.As(err, new(usageError)) {
				t.Errorf("err %v, want a usage error", err)
			}
		})
	}
}

// syncBuffer is a bytes.Buffer safe for a running command and a test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

// The desk comes up on NATS_URL, prints its URL, serves, and stops
// cleanly when its context ends.
func TestRunServesUntilStopped(t *testing.T) {
	t.Parallel()
	srv := embednats.StartTest(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	var stdout, stderr syncBuffer
	done := make(chan error, 1)
	go func() {
		done <- run(runCtx, []string{"--addr", "127.0.0.1:0"}, func(k string) string {
			return map[string]string{"NATS_URL": srv.ClientURL()}[k]
		}, &stdout, &stderr)
	}()
	var url string
	poll.Until(t, 10*time.Second, "the desk's URL on stdout", func() bool {
		_, after, ok := strings.Cut(stdout.String(), "Support desk: ")
		url = strings.TrimSpace(after)
		return ok && strings.HasSuffix(stdout.String(), "\n\n")
	})
	resp, err := http.Get(url + "/healthz")
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("healthz: %v, %v\n%s", resp, err, stderr.String())
	}
	resp.Body.Close()
	stop()
	if err := <-done; err != nil {
		t.Errorf("run returned %v\n%s", err, stderr.String())
	}
	if !strings.Contains(stderr.String(), "stopped") {
		t.Errorf("no clean stop in the log:\n%s", stderr.String())
	}
}
