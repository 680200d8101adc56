package schemas

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
)

// ErrInvalid matches, with errors.Is, every error that rejects an event
// document: all of them are *FieldError.
var ErrInvalid = errors.New("schemas: invalid event")

// FieldError says which part of an event document is invalid and why.
// Reasons never quote string values from the document, so a FieldError is
// safe to log and to publish as an error detail.
type FieldError struct {
	// Kind is a stable, machine-readable class: one of the Kind constants.
	Kind string
	// Field is a JSON pointer (RFC 6901) into the document, such as
	// "/data/ticket_id" or "/type"; "" means the whole document.
	Field string
	// Reason is a short human-readable explanation.
	Reason string
}

// Kinds of FieldError. They are part of the contract: a draft_failed event
// for bad input carries Detail() as its error_detail, and the README lists
// them.
const (
	KindInvalidJSON        = "invalid_json"
	KindInvalidUTF8        = "invalid_utf8"
	KindDuplicateKey       = "duplicate_key"
	KindTooLarge           = "too_large"
	KindNotCloudEvent      = "not_a_cloudevent"
	KindUnsupportedVersion = "unsupported_version"
	KindUnknownType        = "unknown_type"
	KindMissingField       = "missing_field"
	KindWrongType          = "wrong_type"
	KindUnknownField       = "unknown_field"
	KindInvalidField       = "invalid_field"
)

// Detail is the stable error detail for e: its Kind, followed for errors
// about one field by ":" and the field's name, e.g. "missing_field:body".
func (e *FieldError) Detail() string {
	switch e.Kind {
	case KindMissingField, KindWrongType, KindUnknownField, KindInvalidField:
		name := e.Field[strings.LastIndexByte(e.Field, '/')+1:]
		if name == "" || len(name) > 64 {
			return e.Kind
		}
		return e.Kind + ":" + strings.ToValidUTF8(name, "")
	}
	return e.Kind
}

// maxFieldInError bounds how much of Field Error prints: keys come from
// untrusted input and may be long.
const maxFieldInError = 200

// Error returns "schemas: <field>: <reason>", or "schemas: <reason>" when
// the whole document is at fault.
func (e *FieldError) Error() string {
	if e.Field == "" {
		return "schemas: " + e.Reason
	}
	field := e.Field
	if len(field) > maxFieldInError {
		field = strings.ToValidUTF8(field[:maxFieldInError], "") + "..."
	}
	return "schemas: " + field + ": " + e.Reason
}

// Is reports whether target is ErrInvalid.
func (e *FieldError) Is(target error) bool {
	return target == ErrInvalid
}

// escapeToken escapes one JSON pointer reference token.
func escapeToken(tok string) string {
	if !strings.ContainsAny(tok, "~/") {
		return tok
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(tok)
}

// pointer joins prefix (a JSON pointer) and unescaped tokens.
func pointer(prefix string, tokens ...string) string {
	var b strings.Builder
	b.WriteString(prefix)
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escapeToken(t))
	}
	return b.String()
}

// FromValidation turns an error from a santhosh-tekuri/jsonschema
// validation into a *FieldError whose Field is prefix plus the instance
// location of a leaf cause, and whose Reason never quotes the document,
// so it is safe to log and to show a model. When
// several leaves fail, the one that sorts first by field then reason wins,
// so the result does not depend on the validator's map iteration order.
func FromValidation(err error, prefix string) *FieldError {
	var ve *jsonschema.ValidationError
	if !errors.As(err, &ve) {
		// Not a validation error: the validator itself failed.
		return &FieldError{Kind: KindInvalidField, Field: prefix, Reason: "cannot be validated"}
	}
	var leaves []*FieldError
	collectLeaves(ve, prefix, &leaves)
	if len(leaves) == 0 {
		return &FieldError{Kind: KindInvalidField, Field: prefix, Reason: "does not match its schema"}
	}
	return slices.MinFunc(leaves, func(a, b *FieldError) int {
		if c := strings.Compare(a.Field, b.Field); c != 0 {
			return c
		}
		return strings.Compare(a.Reason, b.Reason)
	})
}

// collectLeaves appends a *FieldError for every cause of ve that has no
// causes of its own.
func collectLeaves(ve *jsonschema.ValidationError, prefix string, out *[]*FieldError) {
	if len(ve.Causes) == 0 {
		*out = append(*out, leafError(ve, prefix))
		return
	}
	for _, c := range ve.Causes {
		collectLeaves(c, prefix, out)
	}
}

// leafError describes a single failed keyword. Errors about properties
// (required, additionalProperties) point at the property, not its object.
func leafError(ve *jsonschema.ValidationError, prefix string) *FieldError {
	field := pointer(prefix, ve.InstanceLocation...)
	switch k := ve.ErrorKind.(type) {
	case *kind.Required:
		if len(k.Missing) > 0 {
			field = pointer(field, slices.Min(k.Missing))
		}
		return &FieldError{Kind: KindMissingField, Field: field, Reason: "missing required field"}
	case *kind.AdditionalProperties:
		if len(k.Properties) > 0 {
			field = pointer(field, slices.Min(k.Properties))
		}
		return &FieldError{Kind: KindUnknownField, Field: field, Reason: "unknown field"}
	case *kind.Type:
		return &FieldError{Kind: KindWrongType, Field: field, Reason: fmt.Sprintf("wrong type: got %s, want %s", k.Got, strings.Join(k.Want, " or "))}
	case *kind.Const:
		return &FieldError{Kind: KindInvalidField, Field: field, Reason: "must be " + display(k.Want)}
	case *kind.Enum:
		want := make([]string, len(k.Want))
		for i, w := range k.Want {
			want[i] = display(w)
		}
		return &FieldError{Kind: KindInvalidField, Field: field, Reason: "must be one of " + strings.Join(want, ", ")}
	case *kind.MinLength:
		if k.Want == 1 {
			return &FieldError{Kind: KindInvalidField, Field: field, Reason: "must not be empty"}
		}
		return &FieldError{Kind: KindInvalidField, Field: field, Reason: fmt.Sprintf("shorter than %d characters", k.Want)}
	case *kind.MaxLength:
		return &FieldError{Kind: KindTooLarge, Field: field, Reason: fmt.Sprintf("longer than %d characters", k.Want)}
	case *kind.Minimum:
		return &FieldError{Kind: KindInvalidField, Field: field, Reason: "less than " + k.Want.RatString()}
	case *kind.Maximum:
		return &FieldError{Kind: KindInvalidField, Field: field, Reason: "greater than " + k.Want.RatString()}
	case *kind.Pattern:
		return &FieldError{Kind: KindInvalidField, Field: field, Reason: "does not match pattern " + k.Want}
	case *kind.Format:
		return &FieldError{Kind: KindInvalidField, Field: field, Reason: "not a valid " + k.Want}
	case *kind.FalseSchema:
		return &FieldError{Kind: KindInvalidField, Field: field, Reason: "not allowed"}
	default:
		return &FieldError{Kind: KindInvalidField, Field: field, Reason: "fails " + strings.Join(ve.ErrorKind.KeywordPath(), "/")}
	}
}

// display renders a value taken from a schema (never from a document).
func display(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}
