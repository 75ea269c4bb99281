package gemini

import (
	"fmt"
	"strings"
	"testing"
)

func TestPrepareSchema(t *testing.T) {
	tests := []struct {
		name       string
		in         string
		objectRoot bool
		want       string
	}{{
		name: "additionalProperties, type arrays, anyOf and formats are valid JSON Schema and pass through",
		in: `{"type":"object","additionalProperties":false,"properties":{"a":{"type":["string","null"],"format":"date-time"},
			"b":{"anyOf":[{"type":"integer","minimum":1},{"type":"null"}]},"c":{"type":"array","items":{"type":"number"},"maxItems":3}}}`,
		objectRoot: true,
		want: `{"type":"object","additionalProperties":false,"properties":{"a":{"type":["string","null"],"format":"date-time"},
			"b":{"anyOf":[{"type":"integer","minimum":1},{"type":"null"}]},"c":{"type":"array","items":{"type":"number"},"maxItems":3}}}`,
	}, {
		name:       "$schema is removed everywhere, but a property named $schema stays",
		in:         `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"$schema":{"type":"string","$schema":"x"}}}`,
		objectRoot: true,
		want:       `{"type":"object","properties":{"$schema":{"type":"string"}}}`,
	}, {
		name: "local references are inlined and the definitions dropped",
		in: `{"type":"object","properties":{"task":{"$ref":"#/$defs/Task"},"tags":{"type":"array","items":{"$ref":"#/definitions/Tag"}}},
			"$defs":{"Task":{"type":"object","properties":{"title":{"type":"string"}},"required":["title"]}},
			"definitions":{"Tag":{"type":"string","enum":["a","b"]}}}`,
		objectRoot: true,
		want: `{"type":"object","properties":{"task":{"type":"object","properties":{"title":{"type":"string"}},"required":["title"]},
			"tags":{"type":"array","items":{"type":"string","enum":["a","b"]}}}}`,
	}, {
		name:       "siblings of $ref are merged over the referenced schema",
		in:         `{"type":"object","properties":{"p":{"$ref":"#/$defs/P","description":"the p"}},"$defs":{"P":{"type":"string","description":"generic"}}}`,
		objectRoot: true,
		want:       `{"type":"object","properties":{"p":{"type":"string","description":"the p"}}}`,
	}, {
		name:       "any same-document pointer resolves, with ~1 and ~0 escapes and array indexes",
		in:         `{"type":"object","properties":{"a/b":{"type":"object"},"c":{"$ref":"#/properties/a~1b"},"d":{"anyOf":[{"type":"string"}]},"e":{"$ref":"#/properties/d/anyOf/0"}}}`,
		objectRoot: true,
		want:       `{"type":"object","properties":{"a/b":{"type":"object"},"c":{"type":"object"},"d":{"anyOf":[{"type":"string"}]},"e":{"type":"string"}}}`,
	}, {
		name: "a recursive reference is kept, with only $ siblings, and its definitions",
		in: `{"type":"object","properties":{"root":{"$ref":"#/$defs/Node"}},
			"$defs":{"Node":{"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#/$defs/Node","description":"child"}}}}}}`,
		objectRoot: true,
		want: `{"type":"object","properties":{"root":{"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#/$defs/Node"}}}}},
			"$defs":{"Node":{"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#/$defs/Node"}}}}}}`,
	}, {
		name:       "an unresolvable reference is kept without its non-$ siblings",
		in:         `{"type":"object","properties":{"x":{"$ref":"https://example.com/s.json","$comment":"c","title":"t"}}}`,
		objectRoot: true,
		want:       `{"type":"object","properties":{"x":{"$ref":"https://example.com/s.json","$comment":"c"}}}`,
	}, {
		name:       "const becomes a one-value enum for strings and numbers only",
		in:         `{"type":"object","properties":{"a":{"const":"on"},"b":{"const":3},"c":{"const":true},"d":{"const":"x","enum":["x","y"]}}}`,
		objectRoot: true,
		want:       `{"type":"object","properties":{"a":{"const":"on","enum":["on"]},"b":{"const":3,"enum":[3]},"c":{"const":true},"d":{"const":"x","enum":["x","y"]}}}`,
	}, {
		name:       "data keywords are not treated as schemas",
		in:         `{"type":"object","properties":{"a":{"type":"object","default":{"$ref":"#/nope","$schema":"kept"},"examples":[{"$ref":"#"}]}}}`,
		objectRoot: true,
		want:       `{"type":"object","properties":{"a":{"type":"object","default":{"$ref":"#/nope","$schema":"kept"},"examples":[{"$ref":"#"}]}}}`,
	}, {
		name:       "function parameters without a type get type object",
		in:         `{"properties":{"a":{"type":"string"}}}`,
		objectRoot: true,
		want:       `{"type":"object","properties":{"a":{"type":"string"}}}`,
	}, {
		name: "a response schema without a type is left alone",
		in:   `{"anyOf":[{"type":"string"},{"type":"number"}]}`,
		want: `{"anyOf":[{"type":"string"},{"type":"number"}]}`,
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := prepareSchema([]byte(tt.in), tt.objectRoot)
			if err != nil {
				t.Fatal(err)
			}
			if d := diffJSON(t, []byte(tt.want), got); d != "" {
				t.Errorf("(-want +got):\n%s", d)
			}
		})
	}
}

// TestPrepareSchemaKeepsBytes checks that a schema needing no change goes
// out byte for byte as the client sent it.
func TestPrepareSchemaKeepsBytes(t *testing.T) {
	in := `{ "type": "object", "properties": {"z": {"type": "string"}, "a": {"type": "integer"}} }`
	got, err := prepareSchema([]byte(in), true)
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != in {
		t.Errorf("got %s, want the input unchanged", got)
	}
}

// TestPrepareSchemaBounded checks that references fanning out (each
// definition refers twice to the next: 2^30 nodes if fully inlined) stop
// being inlined at the node budget.
func TestPrepareSchemaBounded(t *testing.T) {
	var defs []string
	for i := range 30 {
		defs = append(defs, fmt.Sprintf(`"d%d":{"type":"object","properties":{"l":{"$ref":"#/$defs/d%d"},"r":{"$ref":"#/$defs/d%d"}}}`, i, i+1, i+1))
	}
	defs = append(defs, `"d30":{"type":"string"}`)
	in := `{"type":"object","properties":{"root":{"$ref":"#/$defs/d0"}},"$defs":{` + strings.Join(defs, ",") + `}}`
	got, err := prepareSchema([]byte(in), true)
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		again, _ := prepareSchema([]byte(in), true)
		if string(again) != string(got) {
			t.Fatal("output differs between runs; the walk must be deterministic")
		}
	}
	if len(got) > 4<<20 {
		t.Fatalf("prepared schema is %d bytes", len(got))
	}
	// Some references had to be kept, so the definitions must stay.
	root := decodeJSON(t, got).(map[string]any)
	if _, ok := root["$defs"]; !ok {
		t.Error("$defs dropped although references were kept")
	}
	if !strings.Contains(string(got), `"$ref":"#/$defs/d`) {
		t.Error("no reference kept; expected inlining to stop at the budget")
	}
}

func TestPrepareSchemaErrors(t *testing.T) {
	for _, in := range []string{`[1]`, `"s"`, `{"a":`, `true`} {
		if _, err := prepareSchema([]byte(in), true); err == nil {
			t.Errorf("prepareSchema(%s): no error", in)
		}
	}
}
