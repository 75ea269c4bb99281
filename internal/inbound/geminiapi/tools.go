package geminiapi

import (
	"strings"

	"github.com/tidwall/gjson"

	"aigateway/internal/inbound"
	"aigateway/internal/openai"
)

// appendTools appends "tools" and "tool_choice" for the request's function
// declarations. Google's built-in tools (googleSearch, codeExecution,
// urlContext, ...) run on Google's side only and are dropped: no Chat
// upstream can run them, and a Gemini deployment gets the request natively.
// A functionCallingConfig of mode ANY with allowedFunctionNames keeps only
// those functions (one name becomes a named tool_choice).
func appendTools(b []byte, g gjson.Result, t inbound.Target) []byte {
	fc := g.Get("toolConfig.functionCallingConfig")
	mode := strings.ToUpper(fc.Get("mode").String())
	var allowed map[string]bool
	if mode == "ANY" || mode == "VALIDATED" {
		fc.Get("allowedFunctionNames").ForEach(func(_, n gjson.Result) bool {
			if allowed == nil {
				allowed = map[string]bool{}
			}
			allowed[n.String()] = true
			return true
		})
	}
	start := len(b)
	b = append(b, `,"tools":[`...)
	n := 0
	var only string
	g.Get("tools").ForEach(func(_, tool gjson.Result) bool {
		tool.Get("functionDeclarations").ForEach(func(_, d gjson.Result) bool {
			name := d.Get("name").String()
			if name == "" || (allowed != nil && !allowed[name]) {
				return true
			}
			if n > 0 {
				b = append(b, ',')
			}
			n++
			only = name
			b = appendFunction(b, d, name)
			return true
		})
		return true
	})
	if n == 0 {
		return b[:start]
	}
	b = append(b, ']')
	switch mode {
	case "NONE":
		b = append(b, `,"tool_choice":"none"`...)
	case "ANY":
		if n == 1 && allowed != nil {
			b = append(b, `,"tool_choice":{"type":"function","function":{"name":`...)
			b = openai.AppendString(b, only)
			b = append(b, "}}"...)
		} else {
			b = append(b, `,"tool_choice":"required"`...)
		}
	case "AUTO", "VALIDATED":
		b = append(b, `,"tool_choice":"auto"`...)
	}
	return b
}

// appendFunction appends one Chat function tool. Its parameters are
// parametersJsonSchema as it is, or parameters converted from Gemini's
// OpenAPI subset (appendSchema), or an empty object schema when the
// function takes none (Anthropic requires an input schema).
func appendFunction(b []byte, d gjson.Result, name string) []byte {
	b = append(b, `{"type":"function","function":{"name":`...)
	b = openai.AppendString(b, name)
	if desc := d.Get("description").String(); desc != "" {
		b = append(b, `,"description":`...)
		b = openai.AppendString(b, desc)
	}
	b = append(b, `,"parameters":`...)
	switch js, p := d.Get("parametersJsonSchema"), d.Get("parameters"); {
	case js.IsObject():
		b = append(b, compactJSON(js.Raw)...)
	case p.IsObject():
		b = appendSchema(b, p, 0)
	default:
		b = append(b, `{"type":"object","properties":{}}`...)
	}
	return append(b, "}}"...)
}

// maxSchemaDepth bounds the recursion of appendSchema; deeper schemas are
// copied as they are.
const maxSchemaDepth = 64

// appendSchema appends a Gemini Schema (the OpenAPI 3.0 subset of
// "parameters" and "responseSchema") as JSON Schema: upper-case types
// (STRING, OBJECT, ...) become lower-case, nullable becomes a type array
// with "null" (or an anyOf with null when the schema has no type), int64
// fields that proto JSON writes as strings (minItems: "1") become numbers,
// example becomes examples, a nullable enum lists null, and the subschemas (properties, items, anyOf,
// ...) are converted likewise. propertyOrdering, which JSON Schema lacks,
// is dropped; everything else (enum, required, format, description,
// bounds) is kept as it is.
func appendSchema(b []byte, s gjson.Result, depth int) []byte {
	if !s.IsObject() || depth > maxSchemaDepth {
		return append(b, compactJSON(s.Raw)...)
	}
	nullable := s.Get("nullable").Bool()
	typ := s.Get("type")
	wrapNull := nullable && (!typ.Exists() || typ.Type != gjson.String)
	if wrapNull {
		b = append(b, `{"anyOf":[`...)
	}
	b = append(b, '{')
	n := 0
	key := func(k string) {
		if n > 0 {
			b = append(b, ',')
		}
		n++
		b = openai.AppendString(b, k)
		b = append(b, ':')
	}
	s.ForEach(func(k, v gjson.Result) bool {
		switch name := k.String(); name {
		case "nullable", "propertyOrdering":
		case "type":
			if v.Type != gjson.String {
				key("type")
				b = append(b, compactJSON(v.Raw)...)
				break
			}
			t := strings.ToLower(v.String())
			if t == "type_unspecified" || t == "" {
				break
			}
			key("type")
			if nullable {
				b = append(b, '[')
				b = openai.AppendString(b, t)
				b = append(b, `,"null"]`...)
			} else {
				b = openai.AppendString(b, t)
			}
		case "properties", "$defs", "defs", "definitions", "patternProperties":
			key(name)
			if !v.IsObject() {
				b = append(b, compactJSON(v.Raw)...)
				break
			}
			b = append(b, '{')
			m := 0
			v.ForEach(func(pk, pv gjson.Result) bool {
				if m > 0 {
					b = append(b, ',')
				}
				m++
				b = openai.AppendString(b, pk.String())
				b = append(b, ':')
				b = appendSchema(b, pv, depth+1)
				return true
			})
			b = append(b, '}')
		case "items", "additionalProperties", "not", "contains", "propertyNames":
			key(name)
			b = appendSchema(b, v, depth+1)
		case "anyOf", "oneOf", "allOf", "prefixItems":
			key(name)
			if !v.IsArray() {
				b = append(b, compactJSON(v.Raw)...)
				break
			}
			b = append(b, '[')
			m := 0
			v.ForEach(func(_, item gjson.Result) bool {
				if m > 0 {
					b = append(b, ',')
				}
				m++
				b = appendSchema(b, item, depth+1)
				return true
			})
			b = append(b, ']')
		case "minItems", "maxItems", "minLength", "maxLength", "minProperties", "maxProperties":
			key(name)
			if v.Type == gjson.String && isDigits(v.String()) {
				b = append(b, v.String()...)
			} else {
				b = append(b, compactJSON(v.Raw)...)
			}
		case "enum":
			key("enum")
			raw := compactJSON(v.Raw)
			if nullable && v.IsArray() && !strings.Contains(raw, "null") && len(raw) > 2 {
				raw = raw[:len(raw)-1] + ",null]" // a null value must pass the enum too
			}
			b = append(b, raw...)
		case "example":
			if s.Get("examples").Exists() {
				break
			}
			key("examples")
			b = append(b, '[')
			b = append(b, compactJSON(v.Raw)...)
			b = append(b, ']')
		default:
			key(name)
			b = append(b, compactJSON(v.Raw)...)
		}
		return true
	})
	b = append(b, '}')
	if wrapNull {
		b = append(b, `,{"type":"null"}]}`...)
	}
	return b
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}
