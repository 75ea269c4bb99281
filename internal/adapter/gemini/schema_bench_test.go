package gemini

import "testing"

// benchSchemaChanged needs changes ($schema, const, a reference); the
// other goes out as sent.
const (
	benchSchemaChanged = `{"$schema":"http://json-schema.org/draft-07/schema#","type":"object","properties":{"query":{"type":"string","description":"search text"},"limit":{"type":"integer","minimum":1,"maximum":100},"filters":{"type":"array","items":{"$ref":"#/$defs/Filter","description":"one filter"}},"sort":{"type":"string","enum":["asc","desc"]}},"required":["query"],"additionalProperties":false,"$defs":{"Filter":{"type":"object","properties":{"field":{"type":"string"},"op":{"const":"eq"},"value":{"type":["string","number","null"]}},"required":["field","value"]}}}`
	benchSchemaPlain   = `{"type":"object","properties":{"query":{"type":"string","description":"search text"},"limit":{"type":"integer","minimum":1,"maximum":100},"sort":{"type":"string","enum":["asc","desc"]}},"required":["query"],"additionalProperties":false}`
)

func BenchmarkPrepareSchema(b *testing.B) {
	for name, s := range map[string]string{"changed": benchSchemaChanged, "unchanged": benchSchemaPlain} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := prepareSchema([]byte(s), true, newSchemaBudget(len(s))); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
