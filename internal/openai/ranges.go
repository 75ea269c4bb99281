package openai

import (
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"
)

// numberRange is the range OpenAI documents for a numeric request field.
// The gateway checks it for every request, whatever the adapter, because
// the value reaches a local program's command line or a provider that may
// read it differently (a negative max_tokens, a temperature of 1e300).
type numberRange struct {
	integer    bool    // the value must be a whole number in [imin, imax]
	min, max   float64 // for decimals
	imin, imax int64   // for integers
}

// maxTokensLimit bounds max_tokens: providers and local servers keep it in
// a 32-bit integer.
const maxTokensLimit = math.MaxInt32

// numericFields has a bit set for each field that rangeOf knows, so that
// Peek asks only for those.
const numericFields = 1<<fieldTemperature | 1<<fieldTopP | 1<<fieldPresencePenalty | 1<<fieldFrequencyPenalty |
	1<<fieldMaxTokens | 1<<fieldMaxCompletionTokens | 1<<fieldN | 1<<fieldTopLogprobs | 1<<fieldSeed

// rangeOf returns the range of a numeric field, and false for the others.
func rangeOf(f field) (numberRange, bool) {
	switch f {
	case fieldTemperature:
		return numberRange{min: 0, max: 2}, true
	case fieldTopP:
		return numberRange{min: 0, max: 1}, true
	case fieldPresencePenalty, fieldFrequencyPenalty:
		return numberRange{min: -2, max: 2}, true
	case fieldMaxTokens, fieldMaxCompletionTokens:
		return numberRange{integer: true, imin: 1, imax: maxTokensLimit}, true
	case fieldN:
		return numberRange{integer: true, imin: 1, imax: 128}, true
	case fieldTopLogprobs:
		return numberRange{integer: true, imin: 0, imax: 20}, true
	case fieldSeed:
		return numberRange{integer: true, imin: math.MinInt64, imax: math.MaxInt64}, true
	}
	return numberRange{}, false
}

// check returns a client error naming the field when value, the field's
// JSON value, is not a number in range. null counts as absent. The codes and
// wording are OpenAI's, which SDK users may already match on.
func (r numberRange) check(name string, value *gjson.Result) *Error {
	if value.Type == gjson.Null {
		return nil
	}
	if value.Type != gjson.Number {
		kind := "a decimal"
		if r.integer {
			kind = "an integer"
		}
		return &Error{Type: TypeInvalidRequest, Param: name, Code: "invalid_type",
			Message: fmt.Sprintf("Invalid type for '%s': expected %s, but got %s instead.", name, kind, typeName(value))}
	}
	if !r.integer {
		// value.Num is ±Inf for 1e400, so huge values fail too.
		switch {
		case value.Num < r.min:
			return outOfRange(name, value, "decimal", false, formatFloat(r.min))
		case value.Num > r.max:
			return outOfRange(name, value, "decimal", true, formatFloat(r.max))
		}
		return nil
	}
	n, whole, sign := integerValue(value)
	switch {
	case !whole:
		return &Error{Type: TypeInvalidRequest, Param: name, Code: "invalid_type",
			Message: fmt.Sprintf("Invalid type for '%s': expected an integer, but got a decimal number instead.", name)}
	case sign < 0 || sign == 0 && n < r.imin:
		return outOfRange(name, value, "integer", false, strconv.FormatInt(r.imin, 10))
	case sign > 0 || sign == 0 && n > r.imax:
		return outOfRange(name, value, "integer", true, strconv.FormatInt(r.imax, 10))
	}
	return nil
}

func outOfRange(name string, value *gjson.Result, kind string, above bool, limit string) *Error {
	code, side, op := kind+"_below_min_value", "below minimum", ">="
	if above {
		code, side, op = kind+"_above_max_value", "above maximum", "<="
	}
	return &Error{Type: TypeInvalidRequest, Param: name, Code: code,
		Message: fmt.Sprintf("Invalid '%s': %s %s value. Expected a value %s %s, but got %s instead.",
			name, kind, side, op, limit, shortRaw(value.Raw))}
}

// integerValue reads a JSON number as an int64. whole is false for a
// fraction (5.5); 5.0 and 1e3 are whole, as the OpenAI API takes them.
// overflow is -1 or +1 for a whole number below or above the int64 range
// (n is then meaningless), else 0.
func integerValue(value *gjson.Result) (n int64, whole bool, overflow int) {
	if !strings.ContainsAny(value.Raw, ".eE") {
		n, err := strconv.ParseInt(value.Raw, 10, 64)
		if err != nil { // the grammar was checked, so only the range can fail
			return 0, true, sign(value.Raw)
		}
		return n, true, 0
	}
	f := value.Num // ±Inf beyond the float64 range
	if !math.IsInf(f, 0) && f != math.Trunc(f) {
		return 0, false, 0
	}
	// -2^63 is the smallest int64; 2^63 is the first float64 above the range.
	if f < math.MinInt64 || f >= -math.MinInt64 {
		return 0, true, sign(value.Raw)
	}
	return int64(f), true, 0
}

func sign(raw string) int {
	if strings.HasPrefix(raw, "-") {
		return -1
	}
	return 1
}

func formatFloat(f float64) string { return strconv.FormatFloat(f, 'g', -1, 64) }

// typeName names a JSON value's type for messages.
func typeName(v *gjson.Result) string {
	switch v.Type {
	case gjson.String:
		return "a string"
	case gjson.True, gjson.False:
		return "a boolean"
	case gjson.JSON:
		if v.IsArray() {
			return "an array"
		}
		return "an object"
	}
	return "a number"
}

// shortRaw keeps a number's text short in a message: a client can send a
// number with a million digits.
func shortRaw(raw string) string {
	const max = 32
	if len(raw) > max {
		return raw[:max] + "..."
	}
	return raw
}

// CheckNumber returns the error Peek gives for value as the Chat
// Completions field named field, with param (the client's own name for the
// value) in the message; nil for a value in range or a field without a
// range. The inbound converters check what they copy from another
// protocol, so that its client hears of its own field rather than of a
// converted body the gateway cannot send.
func CheckNumber(field, param string, value gjson.Result) *Error {
	id := lookupField(field)
	if id == noField || numericFields&(1<<id) == 0 {
		return nil
	}
	r, _ := rangeOf(id)
	return r.check(param, &value)
}
