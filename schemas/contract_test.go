package schemas_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/ghostwriter-ai/ghostwriter/schemas"
)

// goTypes maps every schema file's name (an event type, or "envelope") to
// the Go type it describes.
var goTypes = map[string]reflect.Type{
	"envelope":                reflect.TypeFor[schemas.Envelope](),
	schemas.TypeTicketCreated: reflect.TypeFor[schemas.TicketCreated](),
	schemas.TypeDraftReady:    reflect.TypeFor[schemas.DraftReady](),
	schemas.TypeDraftFailed:   reflect.TypeFor[schemas.DraftFailed](),
	schemas.TypeCost:          reflect.TypeFor[schemas.Cost](),
	schemas.TypeReplySent:     reflect.TypeFor[schemas.ReplySent](),
	schemas.TypeTriaged:       reflect.TypeFor[schemas.Triaged](),
	schemas.TypeTriageFailed:  reflect.TypeFor[schemas.DraftFailed](),
}

// schemaDoc is the part of a schema file the contract tests read.
type schemaDoc struct {
	Schema               string               `json:"$schema"`
	ID                   string               `json:"$id"`
	Title                string               `json:"title"`
	Description          string               `json:"description"`
	Type                 string               `json:"type"`
	Required             []string             `json:"required"`
	Properties           map[string]schemaDoc `json:"properties"`
	AdditionalProperties *bool                `json:"additionalProperties"`
}

func readSchema(t *testing.T, name string) schemaDoc {
	t.Helper()
	raw, err := os.ReadFile(name + ".v1.json")
	if err != nil {
		t.Fatalf("read schema: %v", err)
	}
	var doc schemaDoc
	if err := json.Unmarshal(raw, &doc); err != nil {
		t.Fatalf("parse schema: %v", err)
	}
	return doc
}

// TestSchemaFiles checks that the schema files are exactly the envelope and
// one per event type, with the metadata every file must have.
func TestSchemaFiles(t *testing.T) {
	files, err := filepath.Glob("*.json")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range files {
		names = append(names, strings.TrimSuffix(f, ".v1.json"))
	}
	want := append(schemas.Types(), "envelope")
	slices.Sort(names)
	slices.Sort(want)
	if !slices.Equal(names, want) {
		t.Fatalf("schema files %v, want %v", files, want)
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			doc := readSchema(t, name)
			if doc.Schema != "https://json-schema.org/draft/2020-12/schema" {
				t.Errorf("$schema = %q, want draft 2020-12", doc.Schema)
			}
			if want := "https://ghostwriter.dev/schemas/" + name + "/v1.json"; doc.ID != want {
				t.Errorf("$id = %q, want %q", doc.ID, want)
			}
			if name != "envelope" && doc.ID != schemas.SchemaURL(name) {
				t.Errorf("$id = %q, SchemaURL = %q", doc.ID, schemas.SchemaURL(name))
			}
			if doc.Title == "" || doc.Description == "" {
				t.Error("missing title or description")
			}
			if doc.Type != "object" || doc.AdditionalProperties == nil || *doc.AdditionalProperties {
				t.Error("want an object schema with additionalProperties: false")
			}
		})
	}
}

// TestSchemasMatchTypes checks, for every schema file and every nested
// object schema, that the properties are exactly the JSON names of the
// matching Go type and that the required list is exactly its fields
// without omitempty.
func TestSchemasMatchTypes(t *testing.T) {
	for name, typ := range goTypes {
		t.Run(name, func(t *testing.T) {
			compareObject(t, name, readSchema(t, name), typ)
		})
	}
}

func compareObject(t *testing.T, path string, doc schemaDoc, typ reflect.Type) {
	t.Helper()
	var all, required []string
	fields := map[string]reflect.Type{}
	for f := range typ.Fields() {
		tag, ok := f.Tag.Lookup("json")
		if !ok || tag == "-" || !f.IsExported() {
			t.Errorf("%s.%s: every field needs a json tag", path, f.Name)
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		all = append(all, name)
		fields[name] = f.Type
		if !slices.Contains(strings.Split(opts, ","), "omitempty") {
			required = append(required, name)
		}
	}
	var props []string
	for p := range doc.Properties {
		props = append(props, p)
	}
	want := slices.Clone(doc.Required)
	for _, s := range [][]string{all, required, props, want} {
		slices.Sort(s)
	}
	if !slices.Equal(all, props) {
		t.Errorf("%s: Go fields %v, schema properties %v", path, all, props)
	}
	if !slices.Equal(required, want) {
		t.Errorf("%s: Go fields without omitempty %v, schema required %v", path, required, want)
	}
	for name, sub := range doc.Properties {
		ft, ok := fields[name]
		if ok && sub.Properties != nil && ft.Kind() == reflect.Struct {
			compareObject(t, path+"."+name, sub, ft)
		}
	}
}

// TestTypesValidate fills every field of every data type with a valid
// value and checks the JSON validates, so that no field of a Go type is
// missing from its schema or of the wrong JSON type.
func TestTypesValidate(t *testing.T) {
	// Fields whose schemas allow only some values.
	special := map[string]any{
		"error_code": "internal",
		"fallback":   schemas.FallbackRules,
		"confidence": 0.5,
		"department": "billing",
		"priority":   "high",
		"labels":     []string{"refund"},
	}
	for name, typ := range goTypes {
		if name == "envelope" {
			continue
		}
		t.Run(name, func(t *testing.T) {
			v := reflect.New(typ).Elem()
			fill(t, v, special)
			data := mustJSON(t, v.Interface())
			if err := schemas.Validate(name, data); err != nil {
				t.Errorf("Validate(%s): %v", data, err)
			}
			// New validates the same way.
			if _, err := schemas.New(name, "/test", "", v.Interface()); err != nil {
				t.Errorf("New: %v", err)
			}
		})
	}
}

// fill sets every field of the struct v to a non-zero sample value.
func fill(t *testing.T, v reflect.Value, special map[string]any) {
	t.Helper()
	for i := range v.NumField() {
		f, sf := v.Field(i), v.Type().Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		if s, ok := special[name]; ok {
			f.Set(reflect.ValueOf(s).Convert(f.Type()))
			continue
		}
		switch f.Kind() {
		case reflect.String:
			f.SetString("sample " + name)
		case reflect.Int, reflect.Int64:
			f.SetInt(42)
		case reflect.Float64:
			f.SetFloat(0.25)
		case reflect.Bool:
			f.SetBool(true)
		case reflect.Struct:
			fill(t, f, special)
		default:
			t.Fatalf("fill: field %s has unsupported kind %s", sf.Name, f.Kind())
		}
	}
}
