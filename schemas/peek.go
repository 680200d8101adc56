package schemas

import (
	"bytes"
	"encoding/json"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxPeekID bounds the ids Peek returns, in bytes.
const maxPeekID = 256

// Peek is a lenient, best-effort reading of a document Decode rejected, so
// that the failure can still be reported against its ticket. It returns
// the data's ticket_id and tenant_id when raw is JSON whose top-level
// object has a "data" object holding both as non-empty, valid UTF-8 strings
// of at most 256 bytes without control characters; otherwise ok is false.
// Invalid UTF-8 elsewhere (a broken body, say) does not hide the ids.
// Nothing else is checked: the type may be unknown and other fields wrong.
// With duplicate keys the last one wins. Peek never panics.
func Peek(raw []byte) (ticketID, tenantID string, ok bool) {
	repaired := !utf8.Valid(raw)
	if repaired {
		raw = bytes.ToValidUTF8(raw, []byte(string(utf8.RuneError)))
	}
	// Maps, unlike struct fields, match keys exactly.
	var top, data map[string]json.RawMessage
	if err := json.Unmarshal(raw, &top); err != nil {
		return "", "", false
	}
	if err := json.Unmarshal(top["data"], &data); err != nil || data == nil {
		return "", "", false
	}
	ticketID, ok1 := peekID(data["ticket_id"])
	tenantID, ok2 := peekID(data["tenant_id"])
	if !ok1 || !ok2 {
		return "", "", false
	}
	if repaired && (strings.ContainsRune(ticketID, utf8.RuneError) || strings.ContainsRune(tenantID, utf8.RuneError)) {
		return "", "", false // an id that was itself broken is no id
	}
	return ticketID, tenantID, true
}

// peekID decodes a JSON string that is a plausible id.
func peekID(raw json.RawMessage) (string, bool) {
	var s string
	if len(raw) == 0 || raw[0] != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	if s == "" || len(s) > maxPeekID || !utf8.ValidString(s) {
		return "", false
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", false
		}
	}
	return s, true
}
