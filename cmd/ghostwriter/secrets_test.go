package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/internal/devsecrets"
)

// A secret comes inline or from a file, by flag, environment or config
// file, the higher level winning.
func TestSecretFromFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "secret")
	if err := writeFile(file, "  from-file\n"); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "gw.yaml")
	if err := writeFile(cfg, "openai-api-key: from-config\n"); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		want    string
		wantErr string
	}{
		{"file by flag", []string{"--openai-api-key-file", file}, nil, "from-file", ""},
		{"file by GHOSTWRITER_<FLAG>_FILE", nil, map[string]string{"GHOSTWRITER_OPENAI_API_KEY_FILE": file}, "from-file", ""},
		{"file by the standard alias", nil, map[string]string{"OPENAI_API_KEY_FILE": file}, "from-file", ""},
		{"inline flag beats a file from the environment", []string{"--openai-api-key", "from-flag"},
			map[string]string{"OPENAI_API_KEY_FILE": file}, "from-flag", ""},
		{"a file from the environment beats the config file", nil,
			map[string]string{"GHOSTWRITER_CONFIG": cfg, "OPENAI_API_KEY_FILE": file}, "from-file", ""},
		{"both at one level", nil, map[string]string{"OPENAI_API_KEY": "inline", "OPENAI_API_KEY_FILE": file}, "",
			"give --openai-api-key or --openai-api-key-file, not both"},
		{"missing file", []string{"--openai-api-key-file", filepath.Join(dir, "nope")}, nil, "", "--openai-api-key-file"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCommand("worker", "", "", &syncBuffer{})
			wc := c.workerFlags()
			err := c.parse(tt.args, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("parse: %v; want an error about %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if wc.apiKey != tt.want {
				t.Errorf("key %q, want %q", wc.apiKey, tt.want)
			}
		})
	}
}

// Canary secrets, given every way ghostwriter takes them, never reach
// --help, stdout, stderr, an error, or a formatted flag value, even at
// debug level and when the database URL or NATS URL is what fails.
// (TestLeastPrivilegeUsers checks the events and a running worker's log;
// TestRunEndToEndThroughOpenAIAPI the log of `run`.)
func TestSecretsNeverPrinted(t *testing.T) {
	dir := t.TempDir()
	apiKey := "sk-CANARY-" + devsecrets.Password(8)
	dbPassword := "pwCANARY" + devsecrets.Password(8)
	natsPassword := "natsCANARY" + devsecrets.Password(8)
	keyFile := filepath.Join(dir, "openai-key")
	if err := writeFile(keyFile, apiKey); err != nil {
		t.Fatal(err)
	}
	users, err := devsecrets.WriteUsers(dir, []string{"worker"})
	if err != nil {
		t.Fatal(err)
	}
	seed, err := os.ReadFile(users[0].SeedFile)
	if err != nil {
		t.Fatal(err)
	}
	dsnFile := filepath.Join(dir, "database-url")
	if err := writeFile(dsnFile, "host=127.0.0.1 port=1 user=gw password="+dbPassword+" dbname=gw connect_timeout=1"); err != nil {
		t.Fatal(err)
	}
	canaries := []string{apiKey, dbPassword, natsPassword, strings.TrimSpace(string(seed))}
	env := map[string]string{
		"OPENAI_API_KEY":           apiKey,
		"GHOSTWRITER_DATABASE_URL": "postgres://gw:" + dbPassword + "@127.0.0.1:1/gw?connect_timeout=1",
	}
	getenv := func(k string) string { return env[k] }
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	tests := []struct {
		name   string
		args   []string
		getenv func(string) string
	}{
		{"worker --help", []string{"worker", "--help"}, getenv},
		{"ledger --help", []string{"ledger", "--help"}, getenv},
		{"run --help", []string{"run", "--help"}, getenv},
		{"migrate, database unreachable", []string{"migrate"}, getenv},
		{"migrate, unparsable URL", []string{"migrate", "--database-url", "postgres://gw:" + dbPassword + "@127.0.0.1:badport/gw"}, noEnv},
		{"migrate, key/value string from a file", []string{"migrate", "--database-url-file", dsnFile}, noEnv},
		{"costs, percent-encoded password", []string{"costs", "--database-url", "postgresql://gw:" + dbPassword + "%zz@127.0.0.1:1/gw"}, noEnv},
		{"worker, budgets database unreachable", []string{"worker", "--log-level", "debug", "--nats-url", "nats://127.0.0.1:1"}, getenv},
		{"worker, NATS unreachable", []string{"worker", "--log-level", "debug", "--openai-api-key-file", keyFile,
			"--nats-nkey", users[0].SeedFile, "--nats-url", "nats://gw:" + natsPassword + "@127.0.0.1:1"}, noEnv},
		{"streams apply, NATS unreachable", []string{"streams", "apply", "--nats-url", "nats://gw:" + natsPassword + "@127.0.0.1:1,nats://127.0.0.1:2"}, noEnv},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr syncBuffer
			err := run(ctx, tt.args, tt.getenv, strings.NewReader(""), &stdout, &stderr)
			code := exitCode(err, &stderr)
			if code == 0 && !errors.Is(err, errHelp) {
				t.Fatalf("want a failure, got none\n%s", stderr.String())
			}
			for _, c := range canaries {
				if strings.Contains(stdout.String()+stderr.String(), c) {
					t.Errorf("a secret was printed:\n%s%s", stdout.String(), stderr.String())
				}
			}
		})
	}

	t.Run("formatted flags", func(t *testing.T) {
		c := newCommand("worker", "", "", &syncBuffer{})
		c.workerFlags()
		db := c.databaseFlag()
		if err := c.parse(nil, getenv); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(*db, dbPassword) {
			t.Fatalf("the database URL did not arrive: %q", *db)
		}
		var out bytes.Buffer
		log := slog.New(slog.NewJSONHandler(&out, nil))
		for _, name := range []string{"openai-api-key", "database-url"} {
			v := c.flags.Lookup(name).Value
			fmt.Fprintf(&out, "%v %+v %#v %s %q %x %d\n", v, v, v, v, v, v, v)
			log.Info("flag", "value", v)
			if got := v.String(); got != redacted {
				t.Errorf("--%s prints %q", name, got)
			}
		}
		for _, c := range canaries {
			if strings.Contains(out.String(), c) {
				t.Errorf("a formatted secret shows:\n%s", out.String())
			}
		}
	})
}

// Whatever pgx quotes of a connection string, the password goes.
func TestRedactDSN(t *testing.T) {
	tests := []struct {
		name, dsn, pw string
	}{
		{"URL", "postgres://gw:s3cret@db:5432/gw", "s3cret"},
		{"postgresql URL with a broken port", "postgresql://gw:s3cret@db:x/gw", "s3cret"},
		{"percent-encoded", "postgres://gw:s3%40cret@db/gw", "s3@cret"},
		{"key/value", "host=db user=gw password=s3cret dbname=gw", "s3cret"},
		{"quoted key/value", "host=db user=gw password='s3 cret' dbname=gw", "s3 cret"},
		{"password in the query", "postgres://gw@db/gw?password=s3cret&sslmode=disable", "s3cret"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cause := errors.New("dial")
			err := redactErr(fmt.Errorf("cannot parse `%s` (password %s): %w", tt.dsn, tt.pw, cause), dsnSecrets(tt.dsn)...)
			if strings.Contains(err.Error(), tt.pw) || !errors.Is(err, cause) {
				t.Errorf("%v", err)
			}
		})
	}
}
