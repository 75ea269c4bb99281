package gemini

import (
	"errors"
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
		name: "references into $defs are Gemini's to resolve and stay; other local references are inlined",
		in: `{"type":"object","properties":{"task":{"$ref":"#/$defs/Task"},"tags":{"type":"array","items":{"$ref":"#/definitions/Tag"}}},
			"$defs":{"Task":{"type":"object","properties":{"title":{"type":"string"}},"required":["title"]}},
			"definitions":{"Tag":{"type":"string","enum":["a","b"]}}}`,
		objectRoot: true,
		want: `{"type":"object","properties":{"task":{"$ref":"#/$defs/Task"},
			"tags":{"type":"array","items":{"type":"string","enum":["a","b"]}}},
			"$defs":{"Task":{"type":"object","properties":{"title":{"type":"string"}},"required":["title"]}},
			"definitions":{"Tag":{"type":"string","enum":["a","b"]}}}`,
	}, {
		name: "definitions without $defs go out as $defs, references rewritten to match",
		in: `{"type":"object","properties":{"a":{"$ref":"#/definitions/A"},"b":{"type":"array","items":{"$ref":"#/definitions/A"}}},
			"definitions":{"A":{"type":"object","properties":{"next":{"$ref":"#/definitions/A"}}}}}`,
		objectRoot: true,
		want: `{"type":"object","properties":{"a":{"$ref":"#/$defs/A"},"b":{"type":"array","items":{"$ref":"#/$defs/A"}}},
			"$defs":{"A":{"type":"object","properties":{"next":{"$ref":"#/$defs/A"}}}}}`,
	}, {
		name:       "siblings of $ref are merged over the referenced schema, and unused definitions dropped",
		in:         `{"type":"object","properties":{"p":{"$ref":"#/$defs/P","description":"the p"}},"$defs":{"P":{"type":"string","description":"generic"}}}`,
		objectRoot: true,
		want:       `{"type":"object","properties":{"p":{"type":"string","description":"the p"}}}`,
	}, {
		name: "references inside an inlined copy stay references",
		in: `{"type":"object","properties":{"p":{"$ref":"#/$defs/P","description":"the p"}},
			"$defs":{"P":{"type":"object","properties":{"q":{"$ref":"#/$defs/Q"}}},"Q":{"type":"integer"}}}`,
		objectRoot: true,
		want: `{"type":"object","properties":{"p":{"type":"object","description":"the p","properties":{"q":{"$ref":"#/$defs/Q"}}}},
			"$defs":{"P":{"type":"object","properties":{"q":{"$ref":"#/$defs/Q"}}},"Q":{"type":"integer"}}}`,
	}, {
		name:       "siblings of a reference to a reference go with the last one",
		in:         `{"type":"object","properties":{"p":{"$ref":"#/properties/r","title":"P"},"r":{"$ref":"#/$defs/R"}},"$defs":{"R":{"type":"string"}}}`,
		objectRoot: true,
		want:       `{"type":"object","properties":{"p":{"type":"string","title":"P"},"r":{"$ref":"#/$defs/R"}},"$defs":{"R":{"type":"string"}}}`,
	}, {
		name:       "any same-document pointer resolves, with ~1 and ~0 escapes and array indexes",
		in:         `{"type":"object","properties":{"a/b":{"type":"object"},"c":{"$ref":"#/properties/a~1b"},"d":{"anyOf":[{"type":"string"}]},"e":{"$ref":"#/properties/d/anyOf/0"}}}`,
		objectRoot: true,
		want:       `{"type":"object","properties":{"a/b":{"type":"object"},"c":{"type":"object"},"d":{"anyOf":[{"type":"string"}]},"e":{"type":"string"}}}`,
	}, {
		name: "a recursive reference with siblings is kept, with only $ siblings, and its definitions",
		in: `{"type":"object","properties":{"root":{"$ref":"#/$defs/Node","description":"the tree"}},
			"$defs":{"Node":{"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#/$defs/Node","description":"child"}}}}}}`,
		objectRoot: true,
		want: `{"type":"object","properties":{"root":{"type":"object","description":"the tree","properties":{"kids":{"type":"array","items":{"$ref":"#/$defs/Node"}}}}},
			"$defs":{"Node":{"type":"object","properties":{"kids":{"type":"array","items":{"$ref":"#/$defs/Node"}}}}}}`,
	}, {
		name:       "a root that only refers to its definition becomes that definition",
		in:         `{"$ref":"#/definitions/Args","definitions":{"Args":{"properties":{"n":{"type":"integer"}},"required":["n"]}},"$schema":"http://json-schema.org/draft-07/schema#"}`,
		objectRoot: true,
		want:       `{"type":"object","properties":{"n":{"type":"integer"}},"required":["n"]}`,
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
			got, err := prepareSchema([]byte(tt.in), tt.objectRoot, newSchemaBudget(len(tt.in)))
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
	got, err := prepareSchema([]byte(in), true, newSchemaBudget(len(in)))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != in {
		t.Errorf("got %s, want the input unchanged", got)
	}
}

// fanOutSchema returns a tool schema of about 3 KB whose definitions refer
// eight times each to the next, five levels deep, down to a definition with
// a 2 KB description: 8^5 = 32768 uses of it. With siblings, every
// reference carries a description.
func fanOutSchema(siblings bool) string {
	extra := ""
	if siblings {
		extra = `,"description":"x"`
	}
	var defs []string
	for i := range 5 {
		var props []string
		for j := range 8 {
			props = append(props, fmt.Sprintf(`"p%d":{"$ref":"#/$defs/L%d"%s}`, j, i+1, extra))
		}
		defs = append(defs, fmt.Sprintf(`"L%d":{"type":"object","properties":{%s}}`, i, strings.Join(props, ",")))
	}
	defs = append(defs, `"L5":{"type":"string","description":"`+strings.Repeat("d", 2048)+`"}`)
	return `{"type":"object","properties":{"root":{"$ref":"#/$defs/L0"}},"$defs":{` + strings.Join(defs, ",") + `}}`
}

// TestPrepareSchemaFanOut is the regression test for the schema that grew
// from 208 KB to 488 MiB: shared definitions referenced many times at
// several levels. Inlined, this 3 KB schema became 18 MB; now the
// references stay and the schema goes out as sent. When the references
// carry siblings and must be inlined, the budget stops the expansion with
// an error instead.
func TestPrepareSchemaFanOut(t *testing.T) {
	in := fanOutSchema(false)
	got, err := prepareSchema([]byte(in), true, newSchemaBudget(len(in)))
	if err != nil {
		t.Fatal(err)
	}
	if string(got) != in {
		t.Errorf("prepared schema is %d bytes, want the %d-byte input unchanged", len(got), len(in))
	}

	in = fanOutSchema(true)
	budget := newSchemaBudget(len(in))
	got, err = prepareSchema([]byte(in), true, budget)
	var tooLarge *schemaTooLargeError
	if !errors.As(err, &tooLarge) {
		t.Fatalf("got %d bytes, error %v; want a *schemaTooLargeError", len(got), err)
	}
	if want := len(in) + schemaGrowthFactor*len(in) + schemaGrowthFloor; tooLarge.limit != want {
		t.Errorf("limit %d, want %d (the input plus 3 times it plus 64 KiB)", tooLarge.limit, want)
	}
}

// TestSchemaBudgetShared checks that the schemas of one request share one
// budget: two schemas that each fit alone do not fit together, and the
// growth is capped whatever the input size.
func TestSchemaBudgetShared(t *testing.T) {
	// One reference with a sibling to a 40 KB definition: about 40 KB of
	// growth, within the 64 KiB floor once but not twice.
	in := `{"type":"object","properties":{"a":{"$ref":"#/properties/b","title":"A"},"b":{"type":"string","description":"` +
		strings.Repeat("d", 40<<10) + `"}}}`
	budget := &schemaBudget{growth: schemaGrowthFloor}
	if _, err := prepareSchema([]byte(in), true, budget); err != nil {
		t.Fatalf("first schema: %v", err)
	}
	if _, err := prepareSchema([]byte(in), true, budget); err == nil {
		t.Fatal("second schema fit the budget the first one spent")
	}
	if got := newSchemaBudget(100 << 20).growth; got != schemaGrowthCap {
		t.Errorf("growth for a 100 MiB input = %d, want the cap %d", got, schemaGrowthCap)
	}
}

func TestPrepareSchemaErrors(t *testing.T) {
	for _, in := range []string{`[1]`, `"s"`, `{"a":`, `true`} {
		if _, err := prepareSchema([]byte(in), true, newSchemaBudget(len(in))); err == nil {
			t.Errorf("prepareSchema(%s): no error", in)
		}
	}
}

// TestConvertRequestSchemaBudget runs the fan-out schemas through the whole
// request conversion: the upstream body stays the size of the client's,
// and a schema that would pass the budget is a 400 naming the tool. Many
// tools that each expand a little share one budget.
func TestConvertRequestSchemaBudget(t *testing.T) {
	tool := func(name, schema string) string {
		return `{"type":"function","function":{"name":"` + name + `","parameters":` + schema + `}}`
	}
	body := `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[` + tool("lookup", fanOutSchema(false)) + `]}`
	out, err := ConvertRequest(chatRequest(t, body), RequestOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) > len(body)+1024 {
		t.Errorf("upstream body is %d bytes for a %d-byte request", len(out), len(body))
	}

	body = `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[` + tool("ok", `{"type":"object"}`) + `,` + tool("lookup", fanOutSchema(true)) + `]}`
	_, err = ConvertRequest(chatRequest(t, body), RequestOptions{})
	ae := asAdapterError(t, err)
	if ae.Status != 400 || ae.Err.Param != "tools[1].function.parameters" || ae.Err.Code != "schema_too_large" ||
		!strings.Contains(ae.Err.Message, `function "lookup"`) || !strings.Contains(ae.Err.Message, `"#/$defs/<name>"`) {
		t.Errorf("got %d %q %q: %s", ae.Status, ae.Err.Param, ae.Err.Code, ae.Err.Message)
	}

	// 200 tools, each with one reference with a sibling to its own 1 KB
	// property: 200 KB of growth for 200 KB of input fits (3 times the
	// input), but the same tools pointing at a 40 KB property do not fit
	// the 4 MiB cap together although each would alone.
	var tools []string
	for i := range 200 {
		s := `{"type":"object","properties":{"a":{"$ref":"#/properties/b","title":"A"},"b":{"type":"string","description":"` + strings.Repeat("d", 1<<10) + `"}}}`
		tools = append(tools, tool(fmt.Sprintf("f%d", i), s))
	}
	body = `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[` + strings.Join(tools, ",") + `]}`
	if _, err := ConvertRequest(chatRequest(t, body), RequestOptions{}); err != nil {
		t.Fatalf("200 small expansions: %v", err)
	}
	tools = tools[:0]
	for i := range 200 {
		s := `{"type":"object","properties":{"a":{"$ref":"#/properties/b","title":"A"},"b":{"type":"string","description":"` + strings.Repeat("d", 40<<10) + `"}}}`
		tools = append(tools, tool(fmt.Sprintf("f%d", i), s))
	}
	body = `{"model":"m","messages":[{"role":"user","content":"hi"}],"tools":[` + strings.Join(tools, ",") + `]}`
	_, err = ConvertRequest(chatRequest(t, body), RequestOptions{})
	if ae := asAdapterError(t, err); ae.Err.Code != "schema_too_large" {
		t.Errorf("200 expansions of 40 KB: %v", err)
	}
}
