package schemas_test

import (
	"regexp"
	"testing"

	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

var traceparentRE = regexp.MustCompile(`^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$`)

const parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"

func TestNewTraceparent(t *testing.T) {
	a, b := schemas.NewTraceparent(), schemas.NewTraceparent()
	for _, tp := range []string{a, b} {
		if !traceparentRE.MatchString(tp) || tp[53:] != "01" {
			t.Errorf("NewTraceparent() = %q, want version 00 and flags 01", tp)
		}
		if schemas.TraceID(tp) == "" {
			t.Errorf("TraceID(%q) = \"\", want its trace id", tp)
		}
	}
	if a[3:35] == b[3:35] || a[36:52] == b[36:52] {
		t.Errorf("two traceparents share ids: %q, %q", a, b)
	}
}

func TestChildTraceparent(t *testing.T) {
	tests := []struct {
		name   string
		parent string
		same   bool // child continues the parent's trace
	}{
		{"valid parent", parent, true},
		{"unsampled parent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", true},
		{"future version", "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true},
		{"empty", "", false},
		{"garbage", "traceparent", false},
		{"upper-case hex", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", false},
		{"zero trace id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", false},
		{"zero span id", "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", false},
		{"version ff", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false},
		{"too long", parent + "-extra", false},
		{"wrong separators", "00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			child := schemas.ChildTraceparent(tt.parent)
			if !traceparentRE.MatchString(child) {
				t.Fatalf("ChildTraceparent(%q) = %q, not a version 00 traceparent", tt.parent, child)
			}
			if tt.same {
				if child[3:35] != tt.parent[3:35] || child[53:] != tt.parent[53:] {
					t.Errorf("child %q does not keep trace id and flags of %q", child, tt.parent)
				}
				if child[36:52] == tt.parent[36:52] {
					t.Errorf("child %q reuses the parent's span id", child)
				}
				return
			}
			if len(tt.parent) >= 35 && child[3:35] == tt.parent[3:35] {
				t.Errorf("child %q continues invalid parent %q", child, tt.parent)
			}
			if child[53:] != "01" {
				t.Errorf("child %q of invalid parent should be a new sampled trace", child)
			}
		})
	}
}

func TestTraceID(t *testing.T) {
	tests := []struct {
		name string
		tp   string
		want string
	}{
		{"valid", parent, "4bf92f3577b34da6a3ce929d0e0e4736"},
		{"empty", "", ""},
		{"garbage", "00-xyz", ""},
		{"zero trace id", "00-00000000000000000000000000000000-00f067aa0ba902b7-01", ""},
		{"upper-case", "00-4BF92F3577B34DA6A3CE929D0E0E4736-00F067AA0BA902B7-01", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := schemas.TraceID(tt.tp); got != tt.want {
				t.Errorf("TraceID(%q) = %q, want %q", tt.tp, got, tt.want)
			}
		})
	}
}
