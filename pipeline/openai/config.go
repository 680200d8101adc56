package openai

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"time"
)

// Defaults applied by New to zero Config fields.
const (
	DefaultTimeout  = 30 * time.Second
	DefaultProvider = "openai"
)

const redacted = "[redacted]"

// Secret is a credential that prints, logs and marshals as "[redacted]".
// Only Reveal returns the value.
type Secret string

// Reveal returns the secret value.
func (s Secret) Reveal() string { return string(s) }

// String returns "[redacted]".
func (Secret) String() string { return redacted }

// GoString returns "[redacted]", for %#v.
func (Secret) GoString() string { return redacted }

// Format prints "[redacted]" for every verb, including ones such as %d or
// %x for which fmt would otherwise bypass String.
func (Secret) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, redacted) }

// LogValue returns "[redacted]" for log/slog.
func (Secret) LogValue() slog.Value { return slog.StringValue(redacted) }

// MarshalJSON returns "[redacted]" as a JSON string.
func (Secret) MarshalJSON() ([]byte, error) { return []byte(`"` + redacted + `"`), nil }

// MarshalText returns "[redacted]", for encoders that prefer text.
func (Secret) MarshalText() ([]byte, error) { return []byte(redacted), nil }

// Config configures a Client for one OpenAI-compatible endpoint.
type Config struct {
	// BaseURL is the API root including the version, such as
	// https://api.openai.com/v1 or http://localhost:11434/v1.
	BaseURL string
	// APIKey is sent as a bearer token; empty sends none (Ollama, vLLM,
	// llama.cpp).
	APIKey Secret
	// Model is used when Request.Model is empty.
	Model string
	// Timeout bounds each call; zero means DefaultTimeout. A caller's
	// earlier deadline wins.
	Timeout time.Duration
	// Provider names the provider in responses and events; empty means
	// DefaultProvider.
	Provider string
	// HTTPClient is optional; its transport is wrapped, not modified.
	HTTPClient *http.Client `json:"-"`
}

// Validate reports the first problem with c.
func (c Config) Validate() error {
	if c.BaseURL == "" {
		return errors.New("openai.config: base URL is required")
	}
	u, err := url.Parse(c.BaseURL)
	if err != nil {
		// url errors quote the input, which may hold credentials.
		return errors.New("openai.config: base URL does not parse")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("openai.config: base URL scheme %q, want http or https", u.Scheme)
	}
	if u.Host == "" {
		return errors.New("openai.config: base URL has no host")
	}
	if c.Timeout < 0 {
		return fmt.Errorf("openai.config: timeout %v is negative", c.Timeout)
	}
	return nil
}

// LogValue logs c without the API key's value.
func (c Config) LogValue() slog.Value {
	return slog.GroupValue(
		slog.String("base_url", c.BaseURL),
		slog.Any("api_key", c.APIKey),
		slog.String("model", c.Model),
		slog.Duration("timeout", c.Timeout),
		slog.String("provider", c.Provider),
	)
}

func (c Config) withDefaults() Config {
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Provider == "" {
		c.Provider = DefaultProvider
	}
	return c
}
