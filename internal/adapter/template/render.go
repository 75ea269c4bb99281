package template

import (
	"strconv"

	"aigateway/internal/openai"
)

// values are what the placeholders of one request stand for. A nil pointer,
// an empty stop list or an empty user means the value is absent.
type values struct {
	model       string
	prompt      string
	messages    []byte // a JSON array
	maxTokens   *int64
	temperature *float64
	topP        *float64
	seed        *int64
	presence    *float64 // presence_penalty
	frequency   *float64 // frequency_penalty
	stop        []string
	user        string
}

// present reports whether ph has a value in this request.
func (v *values) present(ph placeholder) bool {
	switch ph {
	case phMaxTokens:
		return v.maxTokens != nil
	case phTemperature:
		return v.temperature != nil
	case phStop:
		return len(v.stop) > 0
	case phUser:
		return v.user != ""
	case phTopP:
		return v.topP != nil
	case phSeed:
		return v.seed != nil
	case phPresencePenalty:
		return v.presence != nil
	case phFrequencyPenalty:
		return v.frequency != nil
	}
	return true
}

// appendJSON appends ph's value as a JSON value. The caller checked present.
func (v *values) appendJSON(dst []byte, ph placeholder) []byte {
	switch ph {
	case phModel:
		return openai.AppendString(dst, v.model)
	case phPrompt:
		return openai.AppendString(dst, v.prompt)
	case phMessages:
		return append(dst, v.messages...)
	case phMaxTokens:
		return strconv.AppendInt(dst, *v.maxTokens, 10)
	case phTemperature:
		return strconv.AppendFloat(dst, *v.temperature, 'g', -1, 64)
	case phTopP:
		return strconv.AppendFloat(dst, *v.topP, 'g', -1, 64)
	case phSeed:
		return strconv.AppendInt(dst, *v.seed, 10)
	case phPresencePenalty:
		return strconv.AppendFloat(dst, *v.presence, 'g', -1, 64)
	case phFrequencyPenalty:
		return strconv.AppendFloat(dst, *v.frequency, 'g', -1, 64)
	case phStop:
		dst = append(dst, '[')
		for i, s := range v.stop {
			if i > 0 {
				dst = append(dst, ',')
			}
			dst = openai.AppendString(dst, s)
		}
		return append(dst, ']')
	case phUser:
		return openai.AppendString(dst, v.user)
	}
	return append(dst, "null"...)
}

// text returns ph's value as text to interpolate into a longer string:
// strings as they are, numbers as written in JSON, arrays as JSON, and an
// absent value as "".
func (v *values) text(ph placeholder) string {
	if !v.present(ph) {
		return ""
	}
	switch ph {
	case phModel:
		return v.model
	case phPrompt:
		return v.prompt
	case phUser:
		return v.user
	}
	return string(v.appendJSON(nil, ph))
}

// render appends n rendered with v. A string that is exactly one absent
// placeholder is left out together with its key or array slot.
func render(dst []byte, n *node, v *values) []byte {
	switch n.kind {
	case kindLiteral:
		return append(dst, n.raw...)
	case kindValue:
		return v.appendJSON(dst, n.ph)
	case kindText:
		dst = append(dst, '"')
		for _, seg := range n.text {
			if seg.ph == phNone {
				dst = openai.AppendEscaped(dst, seg.lit)
			} else {
				dst = openai.AppendEscaped(dst, v.text(seg.ph))
			}
		}
		return append(dst, '"')
	case kindObject:
		dst = append(dst, '{')
		first := true
		for i, kid := range n.kids {
			if kid.kind == kindValue && !v.present(kid.ph) {
				continue
			}
			if !first {
				dst = append(dst, ',')
			}
			first = false
			dst = append(dst, n.ekey[i]...)
			dst = render(dst, kid, v)
		}
		return append(dst, '}')
	}
	dst = append(dst, '[')
	first := true
	for _, kid := range n.kids {
		if kid.kind == kindValue && !v.present(kid.ph) {
			continue
		}
		if !first {
			dst = append(dst, ',')
		}
		first = false
		dst = render(dst, kid, v)
	}
	return append(dst, ']')
}
