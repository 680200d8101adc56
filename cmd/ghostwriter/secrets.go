package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net/url"
	"os"
	"regexp"
	"strings"

	"github.com/ghostwriter-ai/ghostwriter/ledger"
)

const redacted = "[redacted]"

// secretValue is the flag.Value of a secret. It prints as [redacted]
// whatever the verb, so a secret never reaches --help, a log line or a
// panic that formats the flags; empty, it prints as "", so help shows no
// default.
type secretValue struct{ p *string }

func (s secretValue) Set(v string) error { *s.p = v; return nil }

func (s secretValue) String() string {
	if s.p == nil || *s.p == "" {
		return ""
	}
	return redacted
}

// GoString keeps %#v from printing the value.
func (s secretValue) GoString() string { return redacted }

// Format prints [redacted] for every verb, %x and %d included.
func (s secretValue) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, s.String()) }

// LogValue keeps log/slog from printing the value.
func (s secretValue) LogValue() slog.Value { return slog.StringValue(redacted) }

// secretFlag is a secret flag and its -file twin.
type secretFlag struct {
	name  string
	value *string
	file  *string
}

// secretVar adds --name and --name-file, which set *p. The secret is
// given inline (by flag, GHOSTWRITER_<NAME>, its alias or the config file)
// or read from a file (--name-file, GHOSTWRITER_<NAME>_FILE, <ALIAS>_FILE),
// the way Docker and Kubernetes mount secrets; surrounding white space is
// trimmed. Between the two, the one from the higher level of flag > env >
// config wins; both at one level is a usage error.
func (c *command) secretVar(p *string, name, usage string) {
	c.flags.Var(secretValue{p}, name, usage)
	also := envName(name + "-file")
	if alias, ok := envAliases[name+"-file"]; ok {
		also += " or " + alias
	}
	file := c.flags.String(name+"-file", "", "file holding the value of --"+name+"; safer than the value itself (also "+also+")")
	c.secrets = append(c.secrets, secretFlag{name: name, value: p, file: file})
}

// readSecrets fills each secret given as a file from that file.
func (c *command) readSecrets() error {
	for _, s := range c.secrets {
		inline, file := c.from[s.name], c.from[s.name+"-file"]
		switch {
		case file == 0 || inline > file:
			continue
		case inline == file:
			return usagef("give --%s or --%s-file, not both", s.name, s.name)
		}
		raw, err := os.ReadFile(*s.file)
		if err != nil {
			return fmt.Errorf("--%s-file: %w", s.name, err)
		}
		*s.value = strings.TrimSpace(string(raw))
	}
	return nil
}

// openStore opens the Postgres ledger. pgx already masks the password of
// a URL it quotes in an error, on a best-effort basis; this makes sure.
func openStore(ctx context.Context, databaseURL string) (*ledger.Store, error) {
	store, err := ledger.Open(ctx, databaseURL)
	if err != nil {
		return nil, redactErr(err, dsnSecrets(databaseURL)...)
	}
	return store, nil
}

// redactErr returns err with every non-empty secret replaced by
// [redacted]; errors.Is and errors.As still see the original.
func redactErr(err error, secrets ...string) error {
	if err == nil {
		return nil
	}
	msg := err.Error()
	for _, s := range secrets {
		if s != "" {
			msg = strings.ReplaceAll(msg, s, redacted)
		}
	}
	if msg == err.Error() {
		return err
	}
	return &redactedError{msg: msg, err: err}
}

type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// keywordPassword finds password=... in a key/value connection string or
// a URL's query.
var keywordPassword = regexp.MustCompile(`password\s*=\s*('(?:[^'\\]|\\.)*'|[^\s&]+)`)

// dsnSecrets returns what of a Postgres URL or key/value connection
// string must not be printed: the whole string and its password, as
// written and decoded, even when the string is too broken to parse.
func dsnSecrets(dsn string) []string {
	secrets := []string{dsn}
	if m := keywordPassword.FindStringSubmatch(dsn); m != nil {
		secrets = append(secrets, strings.Trim(m[1], "'"))
	}
	rest, ok := strings.CutPrefix(dsn, "postgres://")
	if !ok {
		rest, ok = strings.CutPrefix(dsn, "postgresql://")
	}
	if at := strings.LastIndex(rest, "@"); ok && at >= 0 {
		if _, pw, ok := strings.Cut(rest[:at], ":"); ok && pw != "" {
			secrets = append(secrets, pw)
			if dec, err := url.PathUnescape(pw); err == nil && dec != pw {
				secrets = append(secrets, dec)
			}
		}
	}
	return secrets
}

// redactURL hides the passwords of a list of URLs such as
// nats://user:pass@host,nats://user:pass@other.
func redactURL(raw string) string {
	urls := strings.Split(raw, ",")
	for i, one := range urls {
		if u, err := url.Parse(strings.TrimSpace(one)); err == nil {
			urls[i] = u.Redacted()
		}
	}
	return strings.Join(urls, ",")
}
