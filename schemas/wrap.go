package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"unicode/utf8"
)

// Wrap turns what a person hands to `ghostwriter publish` into an envelope:
// a whole envelope (a JSON object with "specversion") is taken as it is; any
// other JSON object is the data of typ; anything else is plain text, the
// body of a ticket.created whose ids come from ticket. The result is
// strictly validated, so what Wrap returns can be published.
func Wrap(raw []byte, typ, source string, ticket TicketCreated) (Envelope, error) {
	trimmed := bytes.TrimSpace(raw)
	if len(trimmed) == 0 {
		return Envelope{}, fmt.Errorf("schemas.wrap: empty input")
	}
	if trimmed[0] == '{' {
		var probe map[string]json.RawMessage
		if err := json.Unmarshal(trimmed, &probe); err != nil {
			return Envelope{}, fmt.Errorf("schemas.wrap: input looks like JSON but is not: %w", err)
		}
		if _, ok := probe["specversion"]; ok {
			return decodeWrapped(trimmed)
		}
		env, err := New(typ, source, "", json.RawMessage(trimmed))
		if err != nil {
			return Envelope{}, fmt.Errorf("schemas.wrap: %w", err)
		}
		return reencode(env)
	}
	if typ != TypeTicketCreated {
		return Envelope{}, fmt.Errorf("schemas.wrap: plain text is only a %s body; %s needs a JSON object", TypeTicketCreated, typ)
	}
	if !utf8.Valid(trimmed) {
		return Envelope{}, &FieldError{Kind: KindInvalidUTF8, Field: "/data/body", Reason: "invalid UTF-8"}
	}
	ticket.Body = strings.TrimSpace(string(raw))
	env, err := New(TypeTicketCreated, source, "", ticket)
	if err != nil {
		return Envelope{}, fmt.Errorf("schemas.wrap: %w", err)
	}
	return reencode(env)
}

// reencode runs an envelope through Encode and Decode, so that Wrap never
// returns what a consumer would reject.
func reencode(env Envelope) (Envelope, error) {
	raw, err := Encode(env)
	if err != nil {
		return Envelope{}, err
	}
	return decodeWrapped(raw)
}

func decodeWrapped(raw []byte) (Envelope, error) {
	env, err := Decode(raw)
	if err != nil {
		return Envelope{}, fmt.Errorf("schemas.wrap: %w", err)
	}
	return env, nil
}
