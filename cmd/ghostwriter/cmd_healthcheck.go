package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"
)

// runHealthcheck is a hidden subcommand for container health checks:
// distroless images have no shell or curl, so the binary probes its own
// /healthz. It exits 0 on HTTP 200 and 1 otherwise.
func runHealthcheck(ctx context.Context, args []string, env *environ) error {
	c := newCommand("healthcheck", "", "Exit 0 when --url answers HTTP 200 (for container health checks).", env.stderr)
	url := c.flags.String("url", "http://127.0.0.1:9090/healthz", "URL to probe")
	timeout := c.flags.Duration("timeout", 3*time.Second, "give up after this long")
	if err := c.parse(args, env.getenv); err != nil {
		return err
	}
	if c.flags.NArg() > 0 {
		return usagef("healthcheck takes no arguments, got %q", c.flags.Args())
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, *url, nil)
	if err != nil {
		return usagef("--url %q: %v", *url, err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<16))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck %s: %s", *url, resp.Status)
	}
	return nil
}
