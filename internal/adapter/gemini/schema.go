package gemini

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"strconv"
	"strings"

	"aigateway/internal/adapter"
	"aigateway/internal/openai"
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
// Google's API definition (googleapis generative_service.proto,
// GenerationConfig.response_json_schema) lists what these fields support,
// "$id", "$defs", "$ref" and "$anchor" among them, and sets two rules:
// "Cyclic references are unrolled to a limited degree", and "If $ref is set
// on a sub-schema, no other properties, except for those starting as a $,
// may be set". So prepareSchema leaves references to Gemini wherever it can
// and changes only what Gemini would refuse:
//   - A "$ref" to "#" or "#/$defs/<name>" without sibling keywords stays as
//     it is: Gemini resolves it, and a definition used a thousand times is
//     sent once. (Inlining every reference, as this package once did, turned
//     a 208 KB tool schema into a 488 MiB upstream body.)
//   - "definitions" (draft 7, Pydantic v1, zod-to-json-schema) is not on the
//     list: when the root has no "$defs", it goes out as "$defs" and
//     "#/definitions/<name>" references are rewritten to match.
//   - A "$ref" with sibling keywords (description, default, constraints),
//     or to any other local pointer ("#/properties/a",
//     gemini-cli #13326), is inlined: the referenced schema with the
//     siblings merged over it. References inside the inlined copy follow
//     the same rules, so most of them stay references.
//   - A recursive reference that would have to be inlined, and a reference
//     this package cannot resolve, are kept with only their "$" siblings.
//   - "$schema", which is only metadata, is removed (qwen-code #1186).
//   - "const" with a string or number gains a one-value "enum" (Gemini
//     supports enum for strings and numbers but not const), so the
//     constraint is kept instead of ignored.
//
// Inlining can still multiply a schema, so the prepared schemas of one
// request share a byte budget (newSchemaBudget); a request that would pass
// it gets a 400 naming the tool. Writing the output as it is walked keeps
// memory within that budget too.

// Limits for preparing the schemas of one request.
const (
	// schemaGrowthFactor, schemaGrowthFloor and schemaGrowthCap bound how
	// many bytes inlining may add to a request's schemas: 3 times what the
	// client sent plus 64 KiB, and never more than 4 MiB. Real schemas that
	// inline a few references with descriptions stay far below; a fan-out
	// of references with siblings passes it at once.
	schemaGrowthFactor = 3
	schemaGrowthFloor  = 64 << 10
	schemaGrowthCap    = 4 << 20
	// maxRefDepth bounds nested inlining; a deeper reference is kept.
	maxRefDepth = 16
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

// schemaBudget is how many bytes the prepared schemas of one request may
// still add to what the client sent. Its tools and response_format share it,
// so that many small schemas cannot each use a separate allowance.
type schemaBudget struct{ growth int }

// newSchemaBudget returns the budget of a request whose schemas take
// inputBytes bytes as the client sent them.
func newSchemaBudget(inputBytes int) *schemaBudget {
	return &schemaBudget{growth: min(schemaGrowthFactor*inputBytes+schemaGrowthFloor, schemaGrowthCap)}
}

// schemaTooLargeError reports a schema whose prepared form would pass the
// request's budget.
type schemaTooLargeError struct{ limit int }

func (e *schemaTooLargeError) Error() string {
	return fmt.Sprintf(`expanding its "$ref"s for Gemini would make it larger than %d bytes. `+
		`A "$ref" with sibling keywords, or to a location outside "$defs", is replaced by a copy of what it refers to, `+
		`and a request's schemas may grow by at most %d times their size plus %d KiB (never more than %d MiB). `+
		`Refer to "#/$defs/<name>" without sibling keywords; Gemini resolves those itself`,
		e.limit, schemaGrowthFactor, schemaGrowthFloor>>10, schemaGrowthCap>>20)
}

// prepareSchema returns raw ready for Gemini's JSON Schema fields, spending
// what it adds from budget. When nothing needs changing it returns raw
// itself, so the client's bytes go through as sent. objectRoot adds
// "type":"object" to a root without a type: function parameters must
// describe an object, and OpenAI accepts a schema such as {"properties":
// {...}} that only implies it. The error is a *schemaTooLargeError when the
// budget would be passed.
func prepareSchema(raw json.RawMessage, objectRoot bool, budget *schemaBudget) (json.RawMessage, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errSchemaNotObject // more after the value: raw is not what it seems
	}
	root, ok := v.(map[string]any)
	if !ok {
		return nil, errSchemaNotObject
	}
	w := newSchemaWriter(root, len(raw)+budget.growth)
	w.writeRoot(objectRoot)
	if w.err != nil {
		return nil, w.err
	}
	if !w.changed {
		return raw, nil
	}
	out := w.buf.Bytes()
	budget.growth -= len(out) - len(raw)
	return out, nil
}

// schemaWriter writes the prepared copy of one schema as it walks it.
type schemaWriter struct {
	root  map[string]any
	buf   bytes.Buffer
	enc   *json.Encoder // encodes leaves into buf
	limit int           // the most bytes buf may hold
	// renameDefs: the root has "definitions" and no "$defs", so the
	// definitions go out as "$defs".
	renameDefs bool
	changed    bool // the output differs from the input
	keptRefs   bool // some "$ref" was left in place
	err        error
}

func newSchemaWriter(root map[string]any, limit int) *schemaWriter {
	w := &schemaWriter{root: root, limit: limit}
	w.enc = json.NewEncoder(&w.buf)
	_, hasDefs := root["$defs"]
	_, hasDefinitions := root["definitions"].(map[string]any)
	w.renameDefs = hasDefinitions && !hasDefs
	return w
}

// member is one keyword of a schema object being written. expanding lists
// the references being inlined around its value, to detect cycles.
type member struct {
	key       string
	val       any
	expanding []string
}

// writeRoot writes the root schema. Its definitions are written last, and
// only when a reference to them was kept.
func (w *schemaWriter) writeRoot(objectRoot bool) {
	ms, ok := w.rootMembers()
	if !ok {
		w.schema(w.root, nil)
		return
	}
	var defs []member
	ms = slices.DeleteFunc(ms, func(m member) bool {
		if m.key == "$defs" || m.key == "definitions" {
			defs = append(defs, m)
			return true
		}
		return false
	})
	if objectRoot && !slices.ContainsFunc(ms, func(m member) bool { return m.key == "type" }) {
		ms = append(ms, member{key: "type", val: "object"})
		w.changed = true
	}
	w.buf.WriteByte('{')
	n := w.writeMembers(ms)
	if !w.keptRefs {
		w.changed = w.changed || len(defs) > 0 // every reference was inlined: the definitions are dead weight
		defs = nil
	}
	slices.SortFunc(defs, func(a, b member) int { return strings.Compare(a.key, b.key) })
	for _, d := range defs {
		if w.err != nil {
			return
		}
		if n > 0 {
			w.buf.WriteByte(',')
		}
		n++
		key := d.key
		if key == "definitions" && w.renameDefs {
			key = "$defs"
			w.changed = true
		}
		w.key(key)
		w.definitions(d.key, d.val)
	}
	w.buf.WriteByte('}')
}

// rootMembers returns the members of the root object. A root that refers
// to a local schema object (zod-to-json-schema with a name) becomes that
// schema, with the root's other keywords beside it: function parameters
// must describe an object, not point to one. ok is false for a root
// reference left to the general rules (to the root itself, unresolvable,
// or not to an object).
func (w *schemaWriter) rootMembers() (ms []member, ok bool) {
	ref, isRef := w.root["$ref"].(string)
	if !isRef {
		return w.members(w.root, nil, nil, nil), true
	}
	// Follow a chain of references, each one's siblings over the next.
	var chain []string
	target := map[string]any{}
	for isRef {
		t, found := resolvePointer(w.root, ref)
		tm, isMap := t.(map[string]any)
		if !found || !isMap || ref == "#" || slices.Contains(chain, ref) || len(chain) >= maxRefDepth {
			return nil, false
		}
		chain = append(chain, ref)
		for k, v := range tm {
			if _, set := target[k]; !set {
				target[k] = v
			}
		}
		ref, isRef = tm["$ref"].(string)
	}
	w.changed = true
	return w.members(target, chain, w.root, nil), true
}

// members returns the keywords of base, each with baseExp, and those of
// over, each with overExp; over wins where both have a keyword (siblings of
// a "$ref" win over the referenced schema). over may be nil. "$ref" and
// "$schema" are left out.
func (w *schemaWriter) members(base map[string]any, baseExp []string, over map[string]any, overExp []string) []member {
	ms := make([]member, 0, len(base)+len(over))
	add := func(k string, v any, expanding []string) {
		switch k {
		case "$schema":
			w.changed = true
		case "$ref":
		default:
			ms = append(ms, member{key: k, val: v, expanding: expanding})
		}
	}
	for k, v := range base {
		if _, replaced := over[k]; !replaced {
			add(k, v, baseExp)
		}
	}
	for k, v := range over {
		add(k, v, overExp)
	}
	return ms
}

// schema writes the prepared copy of the schema s.
func (w *schemaWriter) schema(s any, expanding []string) {
	if w.err != nil {
		return
	}
	obj, ok := s.(map[string]any)
	if !ok {
		w.value(s) // a boolean schema (or something Gemini will judge)
		return
	}
	if ref, ok := obj["$ref"].(string); ok {
		w.ref(obj, ref, expanding)
		return
	}
	w.buf.WriteByte('{')
	w.writeMembers(w.members(obj, expanding, nil, nil))
	w.buf.WriteByte('}')
}

// writeMembers writes ms in key order, without braces, and returns how
// many it wrote. A string or number "const" gains a one-value "enum".
func (w *schemaWriter) writeMembers(ms []member) int {
	if i := slices.IndexFunc(ms, func(m member) bool { return m.key == "const" }); i >= 0 && isEnumScalar(ms[i].val) &&
		!slices.ContainsFunc(ms, func(m member) bool { return m.key == "enum" }) {
		ms = append(ms, member{key: "enum", val: []any{ms[i].val}})
		w.changed = true
	}
	slices.SortFunc(ms, func(a, b member) int { return strings.Compare(a.key, b.key) })
	for i, m := range ms {
		if w.err != nil {
			return i
		}
		if i > 0 {
			w.buf.WriteByte(',')
		}
		w.key(m.key)
		switch {
		case dataKeywords[m.key]:
			w.value(m.val)
		case schemaMapKeywords[m.key]:
			w.schemaMap(m.val, m.expanding)
		default:
			w.subschemas(m.val, m.expanding)
		}
	}
	return len(ms)
}

// schemaMap writes the values of a name -> schema object.
func (w *schemaWriter) schemaMap(v any, expanding []string) {
	m, ok := v.(map[string]any)
	if !ok {
		w.value(v)
		return
	}
	w.buf.WriteByte('{')
	for i, name := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			w.buf.WriteByte(',')
		}
		w.key(name)
		w.schema(m[name], expanding)
	}
	w.buf.WriteByte('}')
}

// definitions writes the root's $defs or definitions (named by kw). Each
// definition is written as if it were being expanded already, so that a
// recursive definition is not unrolled once inside its own entry.
func (w *schemaWriter) definitions(kw string, v any) {
	m, ok := v.(map[string]any)
	if !ok {
		w.value(v)
		return
	}
	w.buf.WriteByte('{')
	for i, name := range slices.Sorted(maps.Keys(m)) {
		if i > 0 {
			w.buf.WriteByte(',')
		}
		w.key(name)
		self := "#/" + kw + "/" + strings.ReplaceAll(strings.ReplaceAll(name, "~", "~0"), "/", "~1")
		w.schema(m[name], []string{self})
	}
	w.buf.WriteByte('}')
}

// subschemas writes the value of any other keyword: a schema (items, not,
// additionalProperties, ...), a list of schemas (anyOf, prefixItems, ...),
// or a scalar (type, description, minimum, ...), which is kept.
func (w *schemaWriter) subschemas(v any, expanding []string) {
	switch v := v.(type) {
	case map[string]any:
		w.schema(v, expanding)
	case []any:
		w.buf.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				w.buf.WriteByte(',')
			}
			if _, ok := e.(map[string]any); ok {
				w.schema(e, expanding)
			} else {
				w.value(e)
			}
		}
		w.buf.WriteByte(']')
	default:
		w.value(v)
	}
}

// key writes a JSON object key and its colon.
func (w *schemaWriter) key(k string) {
	w.value(k)
	w.buf.WriteByte(':')
}

// value writes v as JSON and checks the size limit, which every walk
// passes through often: no value is larger than the input, so the buffer
// never grows much past the limit before the walk stops. Plain strings,
// numbers (as decoded) and literals are written directly; the rest goes
// through the encoder.
func (w *schemaWriter) value(v any) {
	if w.err != nil {
		return
	}
	switch v := v.(type) {
	case string:
		if !plainString(v) {
			w.encode(v)
			break
		}
		w.buf.WriteByte('"')
		w.buf.WriteString(v)
		w.buf.WriteByte('"')
	case json.Number:
		w.buf.WriteString(string(v))
	case bool:
		w.buf.WriteString(strconv.FormatBool(v))
	case nil:
		w.buf.WriteString("null")
	default:
		w.encode(v)
	}
	if w.err == nil && w.buf.Len() > w.limit {
		w.err = &schemaTooLargeError{limit: w.limit}
	}
}

func (w *schemaWriter) encode(v any) {
	if err := w.enc.Encode(v); err != nil {
		w.err = err
		return
	}
	w.buf.Truncate(w.buf.Len() - 1) // Encode's newline
}

// plainString reports whether s needs no escaping in JSON (encoding/json
// also escapes <, > and &, and so does value, to write the same bytes).
func plainString(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// isEnumScalar reports whether v can be an enum value for Gemini.
func isEnumScalar(v any) bool {
	switch v.(type) {
	case string, json.Number:
		return true
	}
	return false
}

// schemaBytes returns the size of the request's schemas as the client sent
// them: the input of its schema budget.
func schemaBytes(req *openai.ChatRequest) int {
	n := 0
	for i := range req.Tools {
		n += len(req.Tools[i].Function.Parameters)
	}
	if rf := req.ResponseFormat; rf != nil && rf.JSONSchema != nil {
		n += len(rf.JSONSchema.Schema)
	}
	return n
}

// schemaError returns the 400 for a schema (at param, of what) that cannot
// be prepared.
func schemaError(param, what string, err error) *adapter.Error {
	var tooLarge *schemaTooLargeError
	if errors.As(err, &tooLarge) {
		return badParam(param, "schema_too_large", "%s (%s): %v", param, what, err)
	}
	return badParam(param, "invalid_value", "%s: %v", param, err)
}
