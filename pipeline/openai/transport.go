package openai

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/ghostwriter-ai/ghostwriter/pipeline"
)

// maxRetryAfter caps what a provider may ask for, against overflow and
// nonsense; the pipeline applies its own, tighter limits.
const maxRetryAfter = 24 * time.Hour

// recordingTransport records the Retry-After and x-ratelimit-* headers of
// each response into the *callMeta of the request's context, because
// go-openai's values carry no headers. It does not modify requests or
// responses.
type recordingTransport struct {
	base http.RoundTripper // nil means http.DefaultTransport
}

func (t *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.baseTransport().RoundTrip(req)
	if err != nil {
		return resp, err
	}
	if meta, ok := req.Context().Value(callMetaKey{}).(*callMeta); ok {
		meta.retryAfter.Store(int64(parseRetryAfter(resp.Header, time.Now())))
		meta.setRateLimit(parseRateLimit(resp.Header))
	}
	return resp, nil
}

// CloseIdleConnections lets http.Client.CloseIdleConnections reach the base.
func (t *recordingTransport) CloseIdleConnections() {
	if c, ok := t.baseTransport().(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

func (t *recordingTransport) baseTransport() http.RoundTripper {
	if t.base == nil {
		return http.DefaultTransport
	}
	return t.base
}

// parseRetryAfter reads retry-after-ms (OpenAI's precise variant) or
// Retry-After as delay-seconds or an HTTP date. It returns zero when the
// headers are absent, malformed or in the past.
func parseRetryAfter(h http.Header, now time.Time) time.Duration {
	if v := strings.TrimSpace(h.Get("Retry-After-Ms")); v != "" {
		if ms, err := strconv.ParseFloat(v, 64); err == nil && ms > 0 {
			return clampRetryAfter(ms * float64(time.Millisecond))
		}
	}
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseFloat(v, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		return clampRetryAfter(secs * float64(time.Second))
	}
	if at, err := http.ParseTime(v); err == nil {
		return clampRetryAfter(float64(at.Sub(now)))
	}
	return 0
}

func clampRetryAfter(ns float64) time.Duration {
	switch {
	case ns != ns || ns <= 0: // NaN or past
		return 0
	case ns >= float64(maxRetryAfter):
		return maxRetryAfter
	}
	return time.Duration(ns)
}

// parseRateLimit reads OpenAI's x-ratelimit-* headers, which Azure OpenAI,
// OpenRouter and several gateways also send. Absent or malformed values
// stay zero, which the limiter reads as "said nothing".
func parseRateLimit(h http.Header) pipeline.RateLimit {
	// Most providers send none of these headers: an absent one is not
	// parsed, since each failed parse allocates its error.
	num := func(key string) int {
		v := strings.TrimSpace(h.Get(key))
		if v == "" {
			return 0
		}
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return 0
		}
		return n
	}
	dur := func(key string) time.Duration {
		v := strings.TrimSpace(h.Get(key))
		if v == "" {
			return 0
		}
		if d, err := time.ParseDuration(v); err == nil && d > 0 {
			return min(d, maxRetryAfter)
		}
		if secs, err := strconv.ParseFloat(v, 64); err == nil && secs > 0 {
			return clampRetryAfter(secs * float64(time.Second))
		}
		return 0
	}
	rl := pipeline.RateLimit{
		LimitRequests: num("X-Ratelimit-Limit-Requests"), RemainingRequests: num("X-Ratelimit-Remaining-Requests"),
		LimitTokens: num("X-Ratelimit-Limit-Tokens"), RemainingTokens: num("X-Ratelimit-Remaining-Tokens"),
		ResetRequests: dur("X-Ratelimit-Reset-Requests"), ResetTokens: dur("X-Ratelimit-Reset-Tokens"),
	}
	// A limit without a remaining figure says nothing usable.
	if h.Get("X-Ratelimit-Remaining-Requests") == "" {
		rl.LimitRequests = 0
	}
	if h.Get("X-Ratelimit-Remaining-Tokens") == "" {
		rl.LimitTokens = 0
	}
	return rl
}
