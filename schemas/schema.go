package schemas

import (
	"bytes"
	"embed"
	"fmt"
	"slices"
	"time"

	"github.com/santhosh-tekuri/jsonschema/v6"
)

// schemaFS holds the JSON Schema files, the source of truth of the event
// contract. Each data schema is named after its event type plus ".v1.json";
// envelope.v1.json describes the CloudEvents envelope.
//
//go:embed *.json
var schemaFS embed.FS

// schemaBase is the prefix of every schema $id.
const schemaBase = "https://ghostwriter.dev/schemas/"

// envelopeName is the name of the envelope schema, used like a type name in
// file names and URLs.
const envelopeName = "envelope"

// types lists the known event types, sorted.
var types = []string{
	TypeCost,
	TypeTicketCreated,
	TypeDraftFailed,
	TypeDraftReady,
	TypeReplySent,
	TypeTriaged,
	TypeTriageFailed,
}

// Compiled schemas, built once at package init from schemaFS.
var (
	envelopeSchema *jsonschema.Schema
	dataSchemas    map[string]*jsonschema.Schema
)

// newCompiler returns a compiler with the rules every schema is held to.
func newCompiler() *jsonschema.Compiler {
	c := jsonschema.NewCompiler()
	c.DefaultDraft(jsonschema.Draft2020)
	c.AssertFormat()
	// Accept exactly the timestamps time.Time can decode and encode again,
	// so that anything Decode accepts also unmarshals into an Envelope.
	c.RegisterFormat(&jsonschema.Format{Name: "date-time", Validate: validateTime})
	return c
}

func init() {
	slices.Sort(types)
	c := newCompiler()
	for _, name := range append([]string{envelopeName}, types...) {
		raw, err := schemaFS.ReadFile(name + ".v1.json")
		if err != nil {
			panic(fmt.Sprintf("schemas: missing schema for %s: %v", name, err))
		}
		doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(raw))
		if err != nil {
			panic(fmt.Sprintf("schemas: parse %s schema: %v", name, err))
		}
		if err := c.AddResource(schemaURL(name), doc); err != nil {
			panic(fmt.Sprintf("schemas: add %s schema: %v", name, err))
		}
	}
	envelopeSchema = c.MustCompile(schemaURL(envelopeName))
	dataSchemas = make(map[string]*jsonschema.Schema, len(types))
	for _, typ := range types {
		dataSchemas[typ] = c.MustCompile(schemaURL(typ))
	}
}

// validateTime implements the date-time format: an RFC 3339 timestamp that
// time.Time both parses and marshals back.
func validateTime(v any) error {
	s, ok := v.(string)
	if !ok {
		return nil
	}
	var t time.Time
	if err := t.UnmarshalText([]byte(s)); err != nil {
		return fmt.Errorf("not an RFC 3339 timestamp")
	}
	if _, err := t.MarshalText(); err != nil {
		return fmt.Errorf("timestamp out of range")
	}
	return nil
}

// schemaURL is the $id of the schema called name, whether or not it exists.
func schemaURL(name string) string {
	return schemaBase + name + "/v1.json"
}

// SchemaURL returns the $id of the data schema of typ, used as the
// dataschema of events of that type, or "" if typ is unknown.
func SchemaURL(typ string) string {
	if _, ok := dataSchema(typ); !ok {
		return ""
	}
	return schemaURL(typ)
}

// Types returns the known event types, sorted. The slice is a fresh copy.
func Types() []string {
	return slices.Clone(types)
}

// Validate checks data, the JSON of an event payload, against the schema of
// typ with the same strict rules as Decode. Field pointers in the returned
// *FieldError are relative to data (for example "/ticket_id"); an unknown
// typ is reported with Field "".
func Validate(typ string, data []byte) error {
	if fe := validateData(typ, data, ""); fe != nil {
		return fe
	}
	return nil
}
