package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/santhosh-tekuri/jsonschema/v6"
)

// newData returns a pointer to a fresh Go value of the data of typ, or nil
// if typ is unknown.
func newData(typ string) any {
	switch typ {
	case TypeTicketCreated:
		return new(TicketCreated)
	case TypeDraftReady:
		return new(DraftReady)
	case TypeDraftFailed, TypeTriageFailed:
		return new(DraftFailed)
	case TypeTriaged:
		return new(Triaged)
	case TypeCost:
		return new(Cost)
	case TypeReplySent:
		return new(ReplySent)
	}
	return registeredData(typ)
}

// Decode parses and strictly validates an event document. It rejects, with
// a *FieldError that matches ErrInvalid, documents over MaxEventBytes,
// invalid UTF-8, malformed JSON or trailing data, duplicate keys and keys
// that differ only in case (at any depth), envelopes that fail the envelope
// schema, unknown types, and data that fails the schema of its type or does
// not fit the Go type of its data. The returned Envelope keeps the raw
// JSON of the data; see DecodeData.
func Decode(raw []byte) (Envelope, error) {
	if plainOK(raw) {
		if env, ok := decodeFast(raw); ok {
			return env, nil
		}
	} else if fe := scanTokens(raw, ""); fe != nil {
		return Envelope{}, fe
	}
	return decodeSlow(raw)
}

// decodeSlow is Decode after scan, through the JSON Schema validator.
func decodeSlow(raw []byte) (Envelope, error) {
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
	if err != nil {
		return Envelope{}, &FieldError{Kind: KindInvalidJSON, Reason: "malformed JSON"}
	}
	if err := envelopeSchema.Validate(doc); err != nil {
		return Envelope{}, envelopeError(FromValidation(err, ""))
	}
	// The envelope schema guarantees an object with a string type.
	obj, _ := doc.(map[string]any)
	typ, _ := obj["type"].(string)
	sch, ok := dataSchema(typ)
	if !ok {
		return Envelope{}, &FieldError{Kind: KindUnknownType, Field: "/type", Reason: "unknown event type " + quoteShort(typ)}
	}
	if err := sch.Validate(obj["data"]); err != nil {
		return Envelope{}, FromValidation(err, "/data")
	}
	var env Envelope
	if err := json.Unmarshal(raw, &env); err != nil {
		return Envelope{}, fromUnmarshal(err, "")
	}
	if fe := checkGoType(typ, env.Data, "/data"); fe != nil {
		return Envelope{}, fe
	}
	if env.DataSchema != "" && env.DataSchema != SchemaURL(typ) {
		return Envelope{}, &FieldError{Kind: KindUnsupportedVersion, Field: "/dataschema", Reason: "unsupported data schema; want " + SchemaURL(typ)}
	}
	return env, nil
}

// envelopeError classes an envelope-level failure: a document that is not
// an object or lacks a CloudEvents attribute is not a CloudEvent at all,
// and a specversion other than 1.0 is one we do not support.
func envelopeError(fe *FieldError) *FieldError {
	switch {
	case fe.Field == "/specversion" && fe.Kind == KindInvalidField:
		fe.Kind = KindUnsupportedVersion
	case fe.Field == "" && fe.Kind == KindWrongType,
		fe.Kind == KindMissingField && strings.Count(fe.Field, "/") == 1:
		fe.Kind = KindNotCloudEvent
	}
	return fe
}

// validateData is Validate with every Field prefixed by prefix.
func validateData(typ string, data []byte, prefix string) *FieldError {
	if validDataFast(typ, data) {
		return nil
	}
	return validateDataSlow(typ, data, prefix)
}

// validateDataSlow is validateData through the JSON Schema validator.
func validateDataSlow(typ string, data []byte, prefix string) *FieldError {
	sch, ok := dataSchema(typ)
	if !ok {
		return &FieldError{Kind: KindUnknownType, Field: prefix, Reason: "unknown event type " + quoteShort(typ)}
	}
	if fe := scan(data, prefix); fe != nil {
		return fe
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return &FieldError{Kind: KindInvalidJSON, Field: prefix, Reason: "malformed JSON"}
	}
	if err := sch.Validate(doc); err != nil {
		return FromValidation(err, prefix)
	}
	return checkGoType(typ, data, prefix)
}

// checkGoType unmarshals data into the Go type of typ. JSON Schema accepts
// some values encoding/json cannot store, such as 1.0 or 1e3 for an
// integer; this keeps every accepted document decodable by DecodeData.
func checkGoType(typ string, data []byte, prefix string) *FieldError {
	v := newData(typ)
	if v == nil {
		return &FieldError{Kind: KindUnknownType, Field: prefix, Reason: "unknown event type " + quoteShort(typ)}
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return fromUnmarshal(err, prefix)
	}
	return nil
}

// fromUnmarshal turns an encoding/json error into a *FieldError.
func fromUnmarshal(err error, prefix string) *FieldError {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := prefix
		if te.Field != "" {
			field = pointer(prefix, strings.Split(te.Field, ".")...)
		}
		return &FieldError{Kind: KindWrongType, Field: field, Reason: fmt.Sprintf("wrong type: %s does not fit a Go %s", te.Value, te.Type)}
	}
	return &FieldError{Kind: KindWrongType, Field: prefix, Reason: "does not fit its Go type"}
}

// quoteShort quotes s for an error reason, cut to a few dozen bytes.
func quoteShort(s string) string {
	const max = 64
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "") + "..."
	}
	return fmt.Sprintf("%q", s)
}

// DecodeData unmarshals the data of e into v, typically a pointer to the
// Go type of e.Type such as *TicketCreated.
func (e Envelope) DecodeData(v any) error {
	if t, ok := v.(*TicketCreated); ok && decodeTicketFast(e.Data, t) {
		return nil
	}
	if err := json.Unmarshal(e.Data, v); err != nil {
		return fmt.Errorf("schemas.decodedata: %w", err)
	}
	return nil
}

// New builds an envelope of type typ from source carrying data, which is
// marshalled with encoding/json (pass a json.RawMessage for JSON you already
// have). If id is "", a random UUID is used. The time is now, in UTC, to the
// millisecond; datacontenttype is application/json and dataschema is
// SchemaURL(typ). New fails if typ is unknown or data does not validate
// against its schema. Set Subject and TraceParent on the result as needed.
func New(typ, source, id string, data any) (Envelope, error) {
	if _, ok := dataSchema(typ); !ok {
		return Envelope{}, fmt.Errorf("schemas.new: %w", &FieldError{Kind: KindUnknownType, Field: "/type", Reason: "unknown event type " + quoteShort(typ)})
	}
	b, err := json.Marshal(data)
	if err != nil {
		return Envelope{}, fmt.Errorf("schemas.new: marshal data: %w", err)
	}
	if fe := validateData(typ, b, "/data"); fe != nil {
		return Envelope{}, fmt.Errorf("schemas.new: %w", fe)
	}
	if id == "" {
		id = uuid.NewString()
	}
	return Envelope{
		SpecVersion:     SpecVersion,
		ID:              id,
		Source:          source,
		Type:            typ,
		Time:            time.Now().UTC().Truncate(time.Millisecond),
		DataContentType: "application/json",
		DataSchema:      SchemaURL(typ),
		Data:            b,
	}, nil
}

// Encode marshals env and checks the result with the same strict rules as
// Decode: ghostwriter never publishes an event its consumers would reject.
// A failure wraps a *FieldError and means a bug in the caller.
func Encode(env Envelope) ([]byte, error) {
	b, plain, err := marshalEnvelope(env)
	if err != nil {
		return nil, fmt.Errorf("schemas.encode: marshal: %w", err)
	}
	if (plain || plainOK(b)) && validFast(b) {
		return b, nil
	}
	if _, err := Decode(b); err != nil {
		return nil, fmt.Errorf("schemas.encode: %w", err)
	}
	return b, nil
}
