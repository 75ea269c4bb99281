package config

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unicode/utf8"
)

// field describes one JSON member a wire struct accepts.
type field struct {
	name string // JSON name
	want string // expected value, for messages: "a number", "an integer", ...
}

// member is one name/value pair of a JSON object, in file order.
type member struct {
	name  string
	value json.RawMessage
}

// decodeStrict decodes the JSON object raw into the wire struct v.
//
// encoding/json matches names case-insensitively, keeps the last of
// duplicate names and treats null as "absent"; all three would let a mistake
// through, so the members are checked against fields first. Type errors are
// then turned into messages that name the field and what was expected.
// what names an unknown member in messages ("field", "top-level field").
func decodeStrict(raw json.RawMessage, fields []field, what string, v any) error {
	members, err := objectMembers(raw)
	if err != nil {
		return err
	}
	seen := make(map[string]bool, len(members))
	for _, m := range members {
		f, ok := findField(fields, m.name)
		switch {
		case !ok:
			return unknownField(what, m.name, fields)
		case seen[m.name]:
			return fmt.Errorf("%s: given more than once", m.name)
		case kindOf(m.value) == "null":
			return fmt.Errorf("%s: must be %s, got null", m.name, f.want)
		}
		seen[m.name] = true
	}

	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields() // already checked above; kept as a safety net
	err = dec.Decode(v)
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		f, ok := findField(fields, te.Field)
		value, _ := lookup(members, te.Field)
		if ok && value != nil {
			return fmt.Errorf("%s: %s", f.name, typeMessage(f, value))
		}
	}
	return err
}

// typeMessage explains why value does not fit f. Only numbers are echoed:
// a string value could be a secret.
func typeMessage(f field, value json.RawMessage) string {
	got := kindOf(value)
	if got != "number" || (f.want != "a number" && f.want != "an integer") {
		return fmt.Sprintf("must be %s, got %s", f.want, got)
	}
	// A number where a number is expected: the value itself does not fit.
	num := truncate(string(value))
	if f.want == "an integer" && strings.ContainsAny(num, ".eE") {
		return "must be an integer, got number " + num
	}
	return "number " + num + " is out of range"
}

// unknownField reports name, suggesting the closest known field when it is
// probably a typo.
func unknownField(what, name string, fields []field) error {
	best, bestDist := "", 3 // suggest at edit distance <= 2 only
	for _, f := range fields {
		d := editDistance(strings.ToLower(name), f.name)
		// d < len(f.name): "x" is not a typo of "id".
		if d < bestDist && d < len(f.name) {
			best, bestDist = f.name, d
		}
	}
	msg := fmt.Sprintf("unknown %s %s", what, strconv.Quote(truncate(name)))
	if best != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", best)
	}
	return errors.New(msg)
}

// editDistance is the Levenshtein distance between a and b, in bytes (field
// names are ASCII).
func editDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}

// fieldsOf lists the JSON fields of the wire struct v, so the known-field
// list cannot drift from the struct.
func fieldsOf(v any) []field {
	t := reflect.TypeOf(v)
	fields := make([]field, 0, t.NumField())
	for i := range t.NumField() {
		sf := t.Field(i)
		name, _, _ := strings.Cut(sf.Tag.Get("json"), ",")
		fields = append(fields, field{name: name, want: describe(sf.Type)})
	}
	return fields
}

func describe(t reflect.Type) string {
	if t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	if t == reflect.TypeOf(json.RawMessage(nil)) { // nested objects decoded on their own
		return "an object"
	}
	switch t.Kind() {
	case reflect.String:
		return "a string"
	case reflect.Bool:
		return "true or false"
	case reflect.Int, reflect.Int64:
		return "an integer"
	case reflect.Float64:
		return "a number"
	case reflect.Slice:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	panic("config: no description for wire type " + t.String())
}

func findField(fields []field, name string) (field, bool) {
	for _, f := range fields {
		if f.name == name {
			return f, true
		}
	}
	return field{}, false
}

// objectMembers lists the members of the JSON object raw in file order,
// with names unescaped.
func objectMembers(raw json.RawMessage) ([]member, error) {
	dec := json.NewDecoder(bytes.NewReader(raw))
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return nil, fmt.Errorf("must be a JSON object, got %s", kindOf(raw))
	}
	var members []member
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		var m member
		m.name, _ = tok.(string)
		if err := dec.Decode(&m.value); err != nil {
			return nil, err
		}
		members = append(members, m)
	}
	return members, nil
}

func lookup(members []member, name string) (json.RawMessage, bool) {
	for _, m := range members {
		if m.name == name {
			return m.value, true
		}
	}
	return nil, false
}

// kindOf names the JSON type of the valid JSON value raw.
func kindOf(raw json.RawMessage) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

// syntaxError reports err with the line and column it refers to, so that
// editors can jump there.
func syntaxError(name string, data []byte, err error) error {
	var se *json.SyntaxError
	if !errors.As(err, &se) {
		return fmt.Errorf("%s: invalid JSON: %w", name, err)
	}
	line, col := position(data, se.Offset)
	return fmt.Errorf("%s:%d:%d: invalid JSON: %w", name, line, col, err)
}

// position turns a SyntaxError offset into a 1-based line and column
// (counted in characters). encoding/json's offset counts the bytes read,
// including the offending one, so that byte is at offset-1; for unexpected
// end of input this points at the last byte. (Under GOEXPERIMENT=jsonv2 the
// offset points at the offending byte itself, so columns are one less.)
func position(data []byte, offset int64) (line, col int) {
	i := int(min(max(offset-1, 0), int64(len(data))))
	before := data[:i]
	lineStart := bytes.LastIndexByte(before, '\n') + 1
	return bytes.Count(before, []byte("\n")) + 1, utf8.RuneCount(before[lineStart:]) + 1
}

// truncate shortens s (from the file) so a huge value cannot flood a message.
func truncate(s string) string {
	const limit = 64
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}
