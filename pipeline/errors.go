package pipeline

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Code is one of the closed set of error codes the product can switch on.
type Code string

// The closed set of error codes (DESIGN.md, "Event contract").
const (
	CodeInvalidInput        Code = "invalid_input"
	CodeExpired             Code = "expired"
	CodeBudgetExceeded      Code = "budget_exceeded"
	CodeRateLimited         Code = "rate_limited"
	CodeTimeout             Code = "timeout"
	CodeProviderUnavailable Code = "provider_unavailable"
	CodeUnsafeContent       Code = "unsafe_content"
	CodeInvalidOutput       Code = "invalid_output"
	CodeTruncatedOutput     Code = "truncated_output"
	CodeCanceled            Code = "canceled"
	CodeInternal            Code = "internal"
)

// Codes lists every code, in the order DESIGN.md names them.
var Codes = []Code{
	CodeInvalidInput, CodeExpired, CodeBudgetExceeded, CodeRateLimited,
	CodeTimeout, CodeProviderUnavailable, CodeUnsafeContent, CodeInvalidOutput,
	CodeTruncatedOutput, CodeCanceled, CodeInternal,
}

// Retryable reports whether a later attempt at the same task may succeed.
func (c Code) Retryable() bool {
	switch c {
	case CodeRateLimited, CodeTimeout, CodeProviderUnavailable, CodeCanceled:
		return true
	}
	return false
}

// ModelError is a failed model call classified into the closed set.
// Status is the HTTP status when there was one; RetryAfter is the delay the
// provider asked for, zero when it said nothing.
type ModelError struct {
	Code       Code
	Status     int
	RetryAfter time.Duration
	// Detail is short and safe to publish: never prompt or ticket text.
	Detail string
	Err    error
}

func (e *ModelError) Error() string {
	msg := string(e.Code)
	if e.Status != 0 {
		msg += fmt.Sprintf(" (status %d)", e.Status)
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *ModelError) Unwrap() error { return e.Err }

// CodeOf returns the code of err: the code of a *ModelError in its chain,
// CodeCanceled or CodeTimeout for context errors, else CodeInternal.
func CodeOf(err error) Code {
	var me *ModelError
	switch {
	case err == nil:
		return ""
	case errors.As(err, &me):
		return me.Code
	case errors.Is(err, context.DeadlineExceeded):
		return CodeTimeout
	case errors.Is(err, context.Canceled):
		return CodeCanceled
	}
	return CodeInternal
}
