package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"syscall"
	"time"

	goopenai "github.com/sashabaranov/go-openai"

	"github.com/ghostwriter-ai/ghostwriter/pipeline"
)

// classify maps a failed call onto the closed set of pipeline codes. parent
// is the caller's context and call the per-call one derived from it. The
// returned *pipeline.ModelError wraps err; its Detail is built only from
// status codes, provider error identifiers and fixed text, never from
// prompt text or provider messages.
//
//   - An HTTP error response: 429 rate_limited, 408 timeout, 5xx
//     provider_unavailable, a provider "content_filter" code unsafe_content,
//     any other status internal (not retryable: the request or the
//     credentials are wrong), naming the provider's error code.
//   - The caller's context done: canceled, or timeout for its deadline.
//   - The per-call timeout, or a transport timeout: timeout.
//   - Transport failures (dial, DNS, reset, EOF): provider_unavailable.
//   - A 2xx body that is not a chat completion: provider_unavailable. The
//     protocol broke (a gateway page, a truncated body), not the model's
//     text; invalid_output is left for output that arrives but fails
//     validation, which the pipeline judges.
//   - A request that does not encode (the schema is not valid JSON), or
//     anything else go-openai refuses before sending: internal.
func (c *Client) classify(parent, call context.Context, meta *callMeta, err error) *pipeline.ModelError {
	me := &pipeline.ModelError{Err: err, RetryAfter: time.Duration(meta.retryAfter.Load())}

	if status, typ, code, ok := httpError(err); ok {
		me.Status = status
		classifyStatus(me, c.cfg.Provider, typ, code)
		return me
	}

	switch {
	case parent.Err() != nil:
		if errors.Is(parent.Err(), context.DeadlineExceeded) {
			me.Code, me.Detail = pipeline.CodeTimeout, "caller deadline exceeded"
		} else {
			me.Code, me.Detail = pipeline.CodeCanceled, "caller canceled"
		}
	case errors.Is(call.Err(), context.DeadlineExceeded):
		me.Code, me.Detail = pipeline.CodeTimeout, fmt.Sprintf("no response within %v", c.cfg.Timeout)
	case errors.Is(err, context.DeadlineExceeded):
		me.Code, me.Detail = pipeline.CodeTimeout, "deadline exceeded"
	case errors.Is(err, context.Canceled):
		me.Code, me.Detail = pipeline.CodeCanceled, "canceled"
	default:
		if detail, timeout, ok := transportFailure(err); ok {
			me.Code, me.Detail = pipeline.CodeProviderUnavailable, detail
			if timeout {
				me.Code = pipeline.CodeTimeout
			}
			break
		}
		// Encoding the request failed: the schema is not valid JSON
		// (go-openai compacts it, which validates it). Checked first: the
		// marshaler error wraps a syntax error.
		var marshalErr *json.MarshalerError
		if errors.As(err, &marshalErr) {
			me.Code, me.Detail = pipeline.CodeInternal, "schema is not valid JSON"
			break
		}
		var syntaxErr *json.SyntaxError
		var typeErr *json.UnmarshalTypeError
		if errors.As(err, &syntaxErr) || errors.As(err, &typeErr) {
			me.Code, me.Detail = pipeline.CodeProviderUnavailable, "malformed response body"
			break
		}
		me.Code, me.Detail = pipeline.CodeInternal, "request failed before reaching the provider"
	}
	return me
}

// httpError extracts the status and provider error identifiers from an
// error response, if err is one.
func httpError(err error) (status int, typ, code string, ok bool) {
	var apiErr *goopenai.APIError
	if errors.As(err, &apiErr) && apiErr.HTTPStatusCode != 0 {
		code = fmt.Sprint(apiErr.Code)
		if apiErr.Code == nil {
			code = ""
		}
		if code == "" && apiErr.InnerError != nil {
			code = apiErr.InnerError.Code
		}
		return apiErr.HTTPStatusCode, apiErr.Type, code, true
	}
	var reqErr *goopenai.RequestError
	if errors.As(err, &reqErr) && reqErr.HTTPStatusCode != 0 {
		return reqErr.HTTPStatusCode, "", "", true
	}
	return 0, "", "", false
}

func classifyStatus(me *pipeline.ModelError, provider, typ, code string) {
	ident := identifier(code)
	if ident == "" {
		ident = identifier(typ)
	}
	if ident == "" {
		ident = strings.ToLower(strings.ReplaceAll(http.StatusText(me.Status), " ", "_"))
	}
	if ident == "" {
		ident = "unknown_error"
	}
	what := fmt.Sprintf("%s (%d)", ident, me.Status)

	switch {
	case me.Status == http.StatusTooManyRequests:
		me.Code, me.Detail = pipeline.CodeRateLimited, provider+" rate limited the request: "+what
	case me.Status == http.StatusRequestTimeout:
		me.Code, me.Detail = pipeline.CodeTimeout, provider+" timed out: "+what
	case me.Status >= http.StatusInternalServerError:
		me.Code, me.Detail = pipeline.CodeProviderUnavailable, provider+" failed: "+what
	case identifier(code) == "content_filter":
		// Azure and some gateways reject a filtered prompt with a 400.
		me.Code, me.Detail = pipeline.CodeUnsafeContent, provider+" content filter rejected the request: "+what
	default:
		me.Code, me.Detail = pipeline.CodeInternal, "provider rejected request: "+what
	}
}

// identifier returns s if it looks like a machine-readable error code and
// "" otherwise, so free text never reaches a Detail.
func identifier(s string) string {
	if s == "" || len(s) > 64 {
		return ""
	}
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-', r == '.':
		default:
			return ""
		}
	}
	return s
}

// transportFailure reports whether err is a network-level failure, with a
// short detail and whether it was a timeout.
func transportFailure(err error) (detail string, timeout, ok bool) {
	var dnsErr *net.DNSError
	var netErr net.Error
	switch {
	case errors.As(err, &dnsErr):
		return "provider host lookup failed", dnsErr.Timeout(), true
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused", false, true
	case errors.Is(err, syscall.ECONNRESET), errors.Is(err, syscall.EPIPE):
		return "connection reset", false, true
	case errors.Is(err, io.EOF), errors.Is(err, io.ErrUnexpectedEOF):
		return "connection closed before a complete response", false, true
	case errors.As(err, &netErr):
		if netErr.Timeout() {
			return "transport timeout", true, true
		}
		return "transport failure", false, true
	}
	return "", false, false
}
