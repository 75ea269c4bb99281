package openai

import (
	"bytes"
	"errors"
	"fmt"
	"strconv"
	"unsafe"

	"github.com/tidwall/gjson"

	"aigateway/internal/jsonlimit"
)

// Fields are the top-level request fields the gateway needs for routing and
// defaults. Peek finds them in one scan of the body; everything else in the
// body stays as the client sent it.
type Fields struct {
	Model string
	// ModelStart and ModelEnd delimit the raw JSON value of "model" (with its
	// quotes) in the body, so the value can be replaced without re-encoding.
	ModelStart, ModelEnd int
	// ObjectStart is the index of the body's opening '{', where default fields
	// are inserted.
	ObjectStart int

	Stream       bool
	IncludeUsage bool // stream_options.include_usage
	// StreamOptionsStart and StreamOptionsEnd delimit the raw value of
	// "stream_options", and IncludeUsageStart and IncludeUsageEnd the raw
	// value of its "include_usage", so that PatchRequest can turn usage on
	// without decoding the body. An End of 0 means the member is absent.
	StreamOptionsStart, StreamOptionsEnd int
	IncludeUsageStart, IncludeUsageEnd   int
	// StreamOptionsObject and StreamOptionsNull report that
	// "stream_options" is an object, or null.
	StreamOptionsObject, StreamOptionsNull bool

	HasMessages    bool // "messages" is present
	MessagesOK     bool // "messages" is a non-empty array
	HasTemperature bool
	HasMaxTokens   bool // max_tokens or max_completion_tokens
	// MaxTokens is the value of max_completion_tokens, else max_tokens;
	// 0 when neither is a number.
	MaxTokens int64
}

// Peek validates that body is a JSON object, nested at most
// jsonlimit.MaxDepth levels, and reads the fields the gateway routes on. It
// also rejects what would make the gateway and a converter disagree about
// the request, or hand a program or provider a value out of range: a number
// field out of its documented range, a known field given twice, or a case
// variant of a known field ("Stream", "MESSAGES"), which encoding/json would
// decode into the field that Peek checked under its exact name. The error is
// ready to send to the client (status 400).
func Peek(body []byte) (Fields, *Error) {
	var f Fields
	start := 0
	for start < len(body) && isSpace(body[start]) {
		start++
	}
	if start == len(body) {
		return f, &Error{Message: "the request body is empty; expected a JSON object", Type: TypeInvalidRequest, Code: "invalid_json"}
	}
	// Validate before anything reads the body: gjson's readers recurse into
	// nested values, so they are safe only on a body of bounded depth.
	if err := jsonlimit.Validate(body); err != nil {
		return f, invalidJSON(err)
	}
	if body[start] != '{' {
		return f, &Error{Message: "the request body must be a JSON object", Type: TypeInvalidRequest, Code: "invalid_json"}
	}
	f.ObjectStart = start
	f.ModelStart = -1
	// gjson reads a string; aliasing the body avoids copying it. The body is
	// not modified while the Result is in use.
	doc := gjson.Result{Type: gjson.JSON, Raw: unsafe.String(&body[start], len(body)-start), Index: start}
	var seen uint64 // bit n: field n was present
	var err *Error
	doc.ForEach(func(key, value gjson.Result) bool {
		err = f.member(key.Str, &value, &seen)
		return err == nil
	})
	if err != nil {
		return f, err
	}
	if f.ModelStart < 0 || f.Model == "" {
		return f, &Error{Message: `"model" is required`, Type: TypeInvalidRequest, Param: "model", Code: "missing_required_parameter"}
	}
	return f, nil
}

// member checks one top-level member and records what the gateway needs.
func (f *Fields) member(key string, value *gjson.Result, seen *uint64) *Error {
	id := lookupField(key)
	if id == noField {
		if v := caseVariant(key); v != noField {
			return &Error{Type: TypeInvalidRequest, Param: key, Code: "unknown_parameter",
				Message: fmt.Sprintf("Unrecognized request argument %q: field names are case-sensitive (did you mean %q?)", key, knownFields[v])}
		}
		return nil // passed on untouched
	}
	if *seen&(1<<id) != 0 {
		// Parsers disagree on duplicates (first or last wins), so the
		// gateway and the upstream could read different values.
		return &Error{Type: TypeInvalidRequest, Param: key, Code: "invalid_value",
			Message: fmt.Sprintf("%q is given more than once", key)}
	}
	*seen |= 1 << id
	if numericFields&(1<<id) != 0 {
		r, _ := rangeOf(id)
		if err := r.check(key, value); err != nil {
			return err
		}
	}
	switch id {
	case fieldModel:
		if value.Type != gjson.String {
			return &Error{Message: `"model" must be a string`, Type: TypeInvalidRequest, Param: "model", Code: "invalid_type"}
		}
		f.Model = value.Str
		f.ModelStart, f.ModelEnd = value.Index, value.Index+len(value.Raw)
	case fieldStream:
		switch value.Type {
		case gjson.True:
			f.Stream = true
		case gjson.False, gjson.Null:
		default:
			return &Error{Message: `"stream" must be a boolean`, Type: TypeInvalidRequest, Param: "stream", Code: "invalid_type"}
		}
	case fieldStreamOptions:
		f.StreamOptionsStart, f.StreamOptionsEnd = value.Index, value.Index+len(value.Raw)
		f.StreamOptionsObject, f.StreamOptionsNull = value.IsObject(), value.Type == gjson.Null
		if iu := value.Get("include_usage"); iu.Exists() {
			f.IncludeUsage = iu.Type == gjson.True
			f.IncludeUsageStart, f.IncludeUsageEnd = iu.Index, iu.Index+len(iu.Raw)
		}
	case fieldMessages:
		f.HasMessages = true
		f.MessagesOK = value.IsArray() && !emptyArray(value.Raw)
	// A key that is present counts as sent, even with null: inserting a
	// default would duplicate the key, and most parsers keep the last one.
	case fieldTemperature:
		f.HasTemperature = true
	case fieldMaxTokens, fieldMaxCompletionTokens:
		f.HasMaxTokens = true
		if value.Type == gjson.Number && (f.MaxTokens == 0 || key == "max_completion_tokens") {
			f.MaxTokens = value.Int()
		}
	}
	return nil
}

// invalidJSON is the client error for a body that jsonlimit rejected.
func invalidJSON(err error) *Error {
	var je *jsonlimit.Error
	if errors.As(err, &je) && je.TooDeep {
		return &Error{Type: TypeInvalidRequest, Code: "invalid_json",
			Message: fmt.Sprintf("the request body nests JSON deeper than the gateway's limit of %d levels (at byte %d)", jsonlimit.MaxDepth, je.Offset)}
	}
	return &Error{Type: TypeInvalidRequest, Code: "invalid_json", Message: "the request body is not valid JSON: " + err.Error()}
}

// Patch returns body with the model value replaced by modelJSON (an encoded
// JSON string) and the given defaults inserted when the client did not send
// them. It returns body itself when nothing changes, and never modifies body,
// which is replayed on retries.
func Patch(body []byte, f *Fields, modelJSON []byte, temperature *float64, maxTokens *int) []byte {
	return PatchRequest(body, f, Edit{ModelJSON: modelJSON, Temperature: temperature, MaxTokens: maxTokens})
}

// Edit is what PatchRequest changes in a request body.
type Edit struct {
	// ModelJSON replaces the model value; an encoded JSON string.
	ModelJSON []byte
	// Temperature and MaxTokens are inserted when the client sent no such
	// field; nil inserts nothing.
	Temperature *float64
	MaxTokens   *int
	// IncludeUsage sets stream_options.include_usage to true, keeping the
	// other members of stream_options, when Fields.CanIncludeUsage: the
	// gateway learns a stream's usage even when the client did not ask.
	IncludeUsage bool
}

// CanIncludeUsage reports whether PatchRequest can turn
// stream_options.include_usage on: it is off, and stream_options is absent,
// null or an object (another type is the client's error, for the upstream
// to report).
func (f *Fields) CanIncludeUsage() bool {
	if f.IncludeUsage {
		return false
	}
	return f.StreamOptionsEnd == 0 || f.StreamOptionsObject || f.StreamOptionsNull
}

// splice is one edit of a body: body[start:end] is replaced by text.
type splice struct {
	start, end int
	text       []byte
}

var (
	streamOptionsMember = []byte(`"stream_options":{"include_usage":true},`)
	streamOptionsValue  = []byte(`{"include_usage":true}`)
	includeUsageMember  = []byte(`"include_usage":true`)
	includeUsageFirst   = []byte(`"include_usage":true,`)
	includeUsageValue   = []byte(`true`)
)

// PatchRequest returns body with e applied, in one copy. It returns body
// itself when nothing changes, and never modifies body, which is replayed
// on retries.
func PatchRequest(body []byte, f *Fields, e Edit) []byte {
	addTemp := e.Temperature != nil && !f.HasTemperature
	addMax := e.MaxTokens != nil && !f.HasMaxTokens
	addUsage := e.IncludeUsage && f.CanIncludeUsage()
	sameModel := bytes.Equal(body[f.ModelStart:f.ModelEnd], e.ModelJSON)
	if sameModel && !addTemp && !addMax && !addUsage {
		return body
	}
	var headBuf [64]byte
	head := headBuf[:0] // inserted after the opening brace
	if addTemp {
		head = append(head, `"temperature":`...)
		head = strconv.AppendFloat(head, *e.Temperature, 'g', -1, 64)
		head = append(head, ',')
	}
	if addMax {
		head = append(head, `"max_tokens":`...)
		head = strconv.AppendInt(head, int64(*e.MaxTokens), 10)
		head = append(head, ',')
	}
	var editBuf [3]splice
	edits := append(editBuf[:0], splice{f.ObjectStart + 1, f.ObjectStart + 1, head}, splice{f.ModelStart, f.ModelEnd, e.ModelJSON})
	if addUsage {
		edits = append(edits, usageSplice(body, f))
	}
	// The edits touch disjoint spans; put them in body order (at most
	// three, so an insertion sort).
	for i := 1; i < len(edits); i++ {
		for j := i; j > 0 && edits[j].start < edits[j-1].start; j-- {
			edits[j], edits[j-1] = edits[j-1], edits[j]
		}
	}
	n := len(body)
	for _, s := range edits {
		n += len(s.text) - (s.end - s.start)
	}
	out := make([]byte, 0, n)
	at := 0
	for _, s := range edits {
		out = append(out, body[at:s.start]...)
		out = append(out, s.text...)
		at = s.end
	}
	return append(out, body[at:]...)
}

// usageSplice is the edit that turns stream_options.include_usage on; f
// must satisfy CanIncludeUsage.
func usageSplice(body []byte, f *Fields) splice {
	switch {
	case f.StreamOptionsEnd == 0: // absent: a new member first in the body
		return splice{f.ObjectStart + 1, f.ObjectStart + 1, streamOptionsMember}
	case f.StreamOptionsNull:
		return splice{f.StreamOptionsStart, f.StreamOptionsEnd, streamOptionsValue}
	case f.IncludeUsageEnd != 0: // false or null
		return splice{f.IncludeUsageStart, f.IncludeUsageEnd, includeUsageValue}
	}
	// An object without include_usage: a new first member.
	at := f.StreamOptionsStart + 1
	if emptyObject(body[f.StreamOptionsStart:f.StreamOptionsEnd]) {
		return splice{at, at, includeUsageMember}
	}
	return splice{at, at, includeUsageFirst}
}

// emptyObject reports whether raw, a JSON object, has no members.
func emptyObject(raw []byte) bool {
	for i := 1; i < len(raw); i++ {
		if !isSpace(raw[i]) {
			return raw[i] == '}'
		}
	}
	return true
}

// QuoteString returns s as a JSON string.
func QuoteString(s string) []byte { return AppendString(nil, s) }

// emptyArray reports whether raw, a JSON array, has no elements. It looks
// only at the start so that a large messages array is not scanned again.
func emptyArray(raw string) bool {
	for i := 1; i < len(raw); i++ {
		if !isSpace(raw[i]) {
			return raw[i] == ']'
		}
	}
	return true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }
