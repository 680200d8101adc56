package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/internal/embednats"
)

// `ghostwriter healthcheck` is the image's HEALTHCHECK: exit 0 on 200 only.
func TestHealthcheck(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.Error(w, "not ready", http.StatusServiceUnavailable)
		}
	}))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tests := []struct {
		name string
		url  string
		want int
	}{
		{"healthy", srv.URL + "/healthz", 0},
		{"unhealthy", srv.URL + "/readyz", 1},
		{"nothing listening", "http://" + freeAddr(t) + "/healthz", 1},
		{"not a URL", "::", 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stderr syncBuffer
			err := run(ctx, []string{"healthcheck", "--url", tt.url}, noEnv, strings.NewReader(""), &syncBuffer{}, &stderr)
			if got := exitCode(err, &stderr); got != tt.want {
				t.Errorf("exit %d (%v), want %d", got, err, tt.want)
			}
		})
	}
}

// `ghostwriter devsecrets` writes what deploy/compose.yaml needs: its
// nats.env makes deploy/nats/nats-server.conf valid, seeds and keys are
// private, and a second run keeps them.
func TestDevSecrets(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	var out syncBuffer
	if err := run(ctx, []string{"devsecrets", "--out", dir}, noEnv, strings.NewReader(""), &out, &out); err != nil {
		t.Fatalf("devsecrets: %v\n%s", err, out.String())
	}
	env, err := os.ReadFile(filepath.Join(dir, "nats.env"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(env), "\n") {
		if k, v, ok := strings.Cut(strings.TrimPrefix(line, "export "), "="); ok && !strings.HasPrefix(line, "#") {
			t.Setenv(k, v)
		}
	}
	if _, err := embednats.CheckConfig(natsConf); err != nil {
		t.Errorf("nats-server -t with nats.env: %v", err)
	}
	private := []string{"tls/tls.key", "tls/client.key", "database-url"}
	for _, u := range natsUsers {
		private = append(private, "nkeys/"+u+".nk")
	}
	for _, f := range private {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	before, _ := os.ReadFile(filepath.Join(dir, "database-url"))
	if err := run(ctx, []string{"devsecrets", "--out", dir}, noEnv, strings.NewReader(""), &out, &out); err != nil {
		t.Fatal(err)
	}
	after, _ := os.ReadFile(filepath.Join(dir, "database-url"))
	if string(before) != string(after) || !strings.Contains(out.String(), "kept") {
		t.Errorf("a second run replaced the secrets:\n%s", out.String())
	}
}
