package gemini

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"slices"
	"strconv"
	"strings"
)

// Tool parameters and response_format schemas are sent as plain JSON Schema
// (functionDeclarations[].parametersJsonSchema, generationConfig.
// responseJsonSchema) rather than as the OpenAPI-subset Schema of
// "parameters"/"responseSchema". The subset is a protobuf message, so every
// keyword it does not model is a 400 ("Unknown name \"additionalProperties\"
// ... Cannot find field", PROTOCOLS.md 5.1; zed #44875, CLIProxyAPI #97), and
// type arrays ("type": ["string","null"]) do not parse at all. The JSON
// Schema fields take any JSON value and ignore keywords they do not support;
// Gemini CLI, Google's own client, sends its tools this way.
//
// Two things still fail there, and prepareSchema fixes them:
//   - "$ref" with sibling keywords ("If $ref is set on a sub-schema, no other
//     properties, except for those starting as a $, may be set") and
//     references Gemini cannot resolve (gemini-cli #13326). Local references
//     ("#/$defs/X", "#/definitions/X", any "#/..." pointer) are inlined, with
//     the siblings merged over the referenced schema; a recursive reference
//     is kept (Gemini unrolls cycles itself) with its non-"$" siblings
//     dropped, and so are references this package cannot resolve.
//   - "$schema", which is only metadata, is removed (qwen-code #1186).
//
// "const" with a string or number becomes a one-value "enum" (Gemini
// supports enum for strings and numbers but not const), so the constraint is
// kept instead of ignored.

// maxSchemaNodes and maxRefDepth bound the work and the size of a schema
// after inlining references, so that a small schema whose references fan out
// cannot expand exponentially. Past them, references are kept instead of
// inlined.
const (
	maxSchemaNodes = 20000
	maxRefDepth    = 16
)

// schemaMapKeywords hold objects whose values are schemas and whose keys are
// names (property names may be anything, "$ref" included).
var schemaMapKeywords = map[string]bool{
	"properties": true, "patternProperties": true, "$defs": true,
	"definitions": true, "dependentSchemas": true,
}

// dataKeywords hold JSON data, not schemas; they are copied untouched.
var dataKeywords = map[string]bool{
	"enum": true, "const": true, "default": true, "examples": true,
	"required": true, "example": true, "propertyOrdering": true,
}

var errSchemaNotObject = errors.New("must be a JSON Schema object")

// prepareSchema returns raw ready for Gemini's JSON Schema fields. When
// nothing needs changing it returns raw itself, so the client's bytes go
// through as sent. objectRoot adds "type":"object" to a root without a type:
// function parameters must describe an object, and OpenAI accepts a schema
// such as {"properties": {...}} that only implies it.
func prepareSchema(raw json.RawMessage, objectRoot bool) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var root any
	if err := dec.Decode(&root); err != nil {
		return nil, err
	}
	if _, ok := root.(map[string]any); !ok {
		return nil, errSchemaNotObject
	}
	p := &schemaPrep{root: root}
	out := p.object(root.(map[string]any), nil, true)
	m, ok := out.(map[string]any)
	if ok && objectRoot {
		if _, typed := m["type"]; !typed && m["$ref"] == nil {
			m["type"] = "object"
			p.changed = true
		}
	}
	if !p.changed {
		return raw, nil
	}
	if ok && !p.keptRefs {
		// Every local reference was inlined, so the definitions are dead
		// weight (and each one is more schema for Gemini to check).
		delete(m, "$defs")
		delete(m, "definitions")
	}
	b, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return b, nil
}

// schemaPrep is the state of one prepareSchema call.
type schemaPrep struct {
	root     any
	nodes    int  // schema nodes produced so far
	changed  bool // the output differs from the input
	keptRefs bool // some "$ref" was left in place
}

// schema returns the prepared copy of the schema s. expanding lists the
// references being inlined above s, to detect cycles.
func (p *schemaPrep) schema(s any, expanding []string) any {
	p.nodes++
	obj, ok := s.(map[string]any)
	if !ok {
		return s // a boolean schema (or something Gemini will judge)
	}
	return p.object(obj, expanding, false)
}

// object prepares a schema object. At the root, each definition is prepared
// as if it were being expanded already, so that a recursive definition is
// not unrolled once inside $defs.
func (p *schemaPrep) object(obj map[string]any, expanding []string, root bool) any {
	if ref, ok := obj["$ref"].(string); ok {
		return p.ref(obj, ref, expanding)
	}
	out := make(map[string]any, len(obj))
	for _, k := range sortedKeys(obj) {
		v := obj[k]
		switch {
		case k == "$schema":
			p.changed = true
		case k == "const":
			out[k] = v
			if _, hasEnum := obj["enum"]; !hasEnum && isEnumScalar(v) {
				out["enum"] = []any{v}
				p.changed = true
			}
		case dataKeywords[k]:
			out[k] = v
		case root && (k == "$defs" || k == "definitions"):
			out[k] = p.definitions(k, v)
		case schemaMapKeywords[k]:
			out[k] = p.schemaMap(v, expanding)
		default:
			out[k] = p.subschemas(v, expanding)
		}
	}
	return out
}

// schemaMap prepares the values of a name -> schema object.
func (p *schemaPrep) schemaMap(v any, expanding []string) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(m))
	for _, name := range sortedKeys(m) {
		out[name] = p.schema(m[name], expanding)
	}
	return out
}

// definitions prepares the root's $defs or definitions (named by kw).
func (p *schemaPrep) definitions(kw string, v any) any {
	m, ok := v.(map[string]any)
	if !ok {
		return v
	}
	out := make(map[string]any, len(m))
	for _, name := range sortedKeys(m) {
		self := "#/" + kw + "/" + strings.ReplaceAll(strings.ReplaceAll(name, "~", "~0"), "/", "~1")
		out[name] = p.schema(m[name], []string{self})
	}
	return out
}

// subschemas prepares the value of any other keyword: a schema (items,
// not, additionalProperties, ...), a list of schemas (anyOf, prefixItems,
// ...), or a scalar (type, description, minimum, ...), which is kept.
func (p *schemaPrep) subschemas(v any, expanding []string) any {
	switch v := v.(type) {
	case map[string]any:
		return p.schema(v, expanding)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			if _, ok := e.(map[string]any); ok {
				out[i] = p.schema(e, expanding)
			} else {
				out[i] = e
			}
		}
		return out
	}
	return v
}

// ref inlines the local reference of obj, or keeps it when it is recursive,
// not local, unresolvable, or would grow the schema past maxSchemaNodes.
func (p *schemaPrep) ref(obj map[string]any, ref string, expanding []string) any {
	target, found := resolvePointer(p.root, ref)
	inline := found && p.nodes < maxSchemaNodes && len(expanding) < maxRefDepth
	for _, r := range expanding {
		if r == ref {
			inline = false
		}
	}
	if !inline {
		return p.keepRef(obj, expanding)
	}
	p.changed = true
	resolved := p.schema(target, append(expanding[:len(expanding):len(expanding)], ref))
	if len(obj) == 1 {
		return resolved
	}
	// Siblings of $ref apply together with the referenced schema; merging
	// them over it keeps their annotations (description, default) and adds
	// their constraints.
	base, ok := resolved.(map[string]any)
	if !ok {
		base = map[string]any{}
	}
	merged := make(map[string]any, len(base)+len(obj))
	for k, v := range base {
		merged[k] = v
	}
	rest := make(map[string]any, len(obj))
	for k, v := range obj {
		if k != "$ref" {
			rest[k] = v
		}
	}
	for k, v := range p.object(rest, expanding, false).(map[string]any) {
		merged[k] = v
	}
	return merged
}

// keepRef returns obj with only its "$"-prefixed keywords, which is all
// Gemini allows next to "$ref".
func (p *schemaPrep) keepRef(obj map[string]any, expanding []string) any {
	p.keptRefs = true
	out := make(map[string]any, len(obj))
	for _, k := range sortedKeys(obj) {
		v := obj[k]
		switch {
		case k == "$schema":
			p.changed = true
		case k == "$defs":
			out[k] = p.schemaMap(v, expanding)
		case strings.HasPrefix(k, "$"):
			out[k] = v
		default:
			p.changed = true
		}
	}
	return out
}

// resolvePointer resolves a same-document reference ("#" or "#/a/b~1c").
func resolvePointer(root any, ref string) (any, bool) {
	if ref == "#" {
		return root, true
	}
	if !strings.HasPrefix(ref, "#/") {
		return nil, false
	}
	cur := root
	for _, tok := range strings.Split(ref[2:], "/") {
		tok = strings.ReplaceAll(strings.ReplaceAll(tok, "~1", "/"), "~0", "~")
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[tok]
			if !ok {
				return nil, false
			}
			cur = v
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(c) {
				return nil, false
			}
			cur = c[i]
		default:
			return nil, false
		}
	}
	return cur, true
}

// sortedKeys returns m's keys in order: the walk is then deterministic, and
// so is which references are inlined when the node budget runs out.
func sortedKeys(m map[string]any) []string {
	return slices.Sorted(maps.Keys(m))
}

// isEnumScalar reports whether v can be an enum value for Gemini.
func isEnumScalar(v any) bool {
	switch v.(type) {
	case string, json.Number:
		return true
	}
	return false
}
