package schemas

import (
	"crypto/rand"
	"encoding/hex"
)

// W3C Trace Context (https://www.w3.org/TR/trace-context/) version 00:
// "00-<32 hex trace id>-<16 hex span id>-<2 hex flags>", lower case.
const (
	traceparentLen = 55
	traceIDStart   = 3
	spanIDStart    = 36
	flagsStart     = 53
	flagSampled    = "01"
)

// NewTraceparent starts a new trace: version 00, a random trace id and span
// id, and the sampled flag.
func NewTraceparent() string {
	return formatTraceparent(randomHex(16), randomHex(8), flagSampled)
}

// ChildTraceparent continues the trace of parent with a fresh span id,
// keeping its trace id and flags. If parent is empty or invalid it starts a
// new trace, as NewTraceparent does.
func ChildTraceparent(parent string) string {
	if !validTraceparent(parent) {
		return NewTraceparent()
	}
	return formatTraceparent(parent[traceIDStart:traceIDStart+32], randomHex(8), parent[flagsStart:])
}

// TraceID returns the 32-hex-digit trace id of a valid traceparent, or "".
func TraceID(traceparent string) string {
	if !validTraceparent(traceparent) {
		return ""
	}
	return traceparent[traceIDStart : traceIDStart+32]
}

// validTraceparent reports whether s is a well-formed traceparent with a
// usable version (not ff) and non-zero trace and span ids. Only the
// 55-character form is accepted, matching the envelope schema's pattern.
func validTraceparent(s string) bool {
	if len(s) != traceparentLen || s[2] != '-' || s[spanIDStart-1] != '-' || s[flagsStart-1] != '-' {
		return false
	}
	version, traceID, spanID, flags := s[:2], s[traceIDStart:spanIDStart-1], s[spanIDStart:flagsStart-1], s[flagsStart:]
	for _, part := range []string{version, traceID, spanID, flags} {
		if !lowerHex(part) {
			return false
		}
	}
	return version != "ff" && !allZero(traceID) && !allZero(spanID)
}

func formatTraceparent(traceID, spanID, flags string) string {
	return "00-" + traceID + "-" + spanID + "-" + flags
}

// randomHex returns n random bytes from crypto/rand in hex, never all zero.
func randomHex(n int) string {
	b := make([]byte, n)
	for {
		rand.Read(b) // never fails; see crypto/rand.Read
		if s := hex.EncodeToString(b); !allZero(s) {
			return s
		}
	}
}

func lowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

func allZero(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] != '0' {
			return false
		}
	}
	return true
}
