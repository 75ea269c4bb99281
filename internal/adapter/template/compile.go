package template

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"

	"aigateway/internal/openai"
)

// placeholder is one of the values a template can refer to. Zero is "none".
type placeholder uint8

const (
	phNone placeholder = iota
	phModel
	phPrompt
	phMessages
	phMaxTokens
	phTemperature
	phStop
	phUser
	phTopP
	phSeed
	phPresencePenalty
	phFrequencyPenalty
)

// lookupPlaceholder maps the name between the braces to its placeholder.
func lookupPlaceholder(name string) (placeholder, bool) {
	switch name {
	case "model":
		return phModel, true
	case "prompt":
		return phPrompt, true
	case "messages":
		return phMessages, true
	case "max_tokens":
		return phMaxTokens, true
	case "temperature":
		return phTemperature, true
	case "stop":
		return phStop, true
	case "user":
		return phUser, true
	case "top_p":
		return phTopP, true
	case "seed":
		return phSeed, true
	case "presence_penalty":
		return phPresencePenalty, true
	case "frequency_penalty":
		return phFrequencyPenalty, true
	}
	return phNone, false
}

// knownPlaceholders lists the placeholders for messages.
const knownPlaceholders = "{{model}}, {{prompt}}, {{messages}}, {{max_tokens}}, {{temperature}}, {{top_p}}, {{seed}}, " +
	"{{presence_penalty}}, {{frequency_penalty}}, {{stop}}, {{user}}"

// kind is the kind of a template node.
type kind uint8

const (
	kindLiteral kind = iota // raw holds the encoded JSON; no placeholder below
	kindValue               // a string that is exactly one placeholder
	kindText                // a string with placeholders inside other text
	kindObject
	kindArray
)

// node is one value of a pre-parsed template. Subtrees without placeholders
// are kept as their encoded JSON, so rendering copies them in one append.
type node struct {
	kind kind
	raw  []byte      // kindLiteral
	ph   placeholder // kindValue
	text []segment   // kindText
	keys []string    // kindObject: decoded keys, for merging
	ekey [][]byte    // kindObject: keys encoded as `"key":`
	kids []*node     // kindObject values, kindArray elements
}

// segment is a piece of a kindText string: literal text, or a placeholder.
type segment struct {
	lit string
	ph  placeholder
}

// compiled is a validated template, ready to render.
type compiled struct {
	body   *node // the request body
	stream *node // the stream request body (body merged with Stream.Body); nil without streaming
	// bodyUses and streamUses are the placeholders of body and stream: a
	// parameter is carried only when the body actually sent holds its
	// placeholder (merging stream.body may replace a key that held one).
	bodyUses, streamUses uint
}

// Validate checks the template once at load: the body is a JSON object, every
// {{placeholder}} is known, the text paths are set and the stream format is
// known. Messages name the field, e.g. "template.body: unknown placeholder
// {{promt}} (at input)".
func Validate(o *Options) error {
	_, err := compile(o)
	return err
}

// compile validates o and pre-parses its templates.
func compile(o *Options) (*compiled, error) {
	if o.URL == "" {
		return nil, errors.New("url: required")
	}
	if u, err := url.Parse(o.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("url: must be an absolute http(s) URL, got %q", o.URL)
	}
	c := &compiled{}
	body, err := parseObject(o.Body, "template.body")
	if err != nil {
		return nil, err
	}
	c.body, c.bodyUses = body, usesOf(body)
	if strings.TrimSpace(o.Response.Text) == "" {
		return nil, errors.New("template.response.text: required")
	}
	if o.Stream == nil {
		return c, nil
	}
	s := o.Stream
	if s.Format != "sse" && s.Format != "jsonl" {
		return nil, fmt.Errorf(`template.stream.format: must be "sse" or "jsonl", got %q`, s.Format)
	}
	if strings.TrimSpace(s.Text) == "" {
		return nil, errors.New("template.stream.text: required")
	}
	c.stream = body
	if len(bytes.TrimSpace(s.Body)) > 0 {
		extra, err := parseObject(s.Body, "template.stream.body")
		if err != nil {
			return nil, err
		}
		c.stream = merge(body, extra)
	}
	c.streamUses = usesOf(c.stream)
	return c, nil
}

// usesOf returns the bit set of the placeholders under n.
func usesOf(n *node) uint {
	var u uint
	switch n.kind {
	case kindValue:
		u = 1 << n.ph
	case kindText:
		for _, seg := range n.text {
			if seg.ph != phNone {
				u |= 1 << seg.ph
			}
		}
	}
	for _, kid := range n.kids {
		u |= usesOf(kid)
	}
	return u
}

// parseObject parses a template that must be a JSON object. The top level is
// always kept as an object node, even without placeholders, so that a stream
// body can be merged into it.
func parseObject(raw json.RawMessage, field string) (*node, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, fmt.Errorf("%s: required", field)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.UseNumber() // keep numbers exactly as written
	p := &parser{dec: dec, field: field}
	tok, err := dec.Token()
	if err != nil {
		return nil, fmt.Errorf("%s: invalid JSON: %w", field, err)
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%s: must be a JSON object", field)
	}
	n, err := p.object("")
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, fmt.Errorf("%s: invalid JSON: unexpected data after the object", field)
	}
	return n, nil
}

// parser builds nodes from the decoder's tokens, which keeps the keys in the
// order the template gives them.
type parser struct {
	dec   *json.Decoder
	field string
}

func (p *parser) errorf(at, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	if at != "" {
		msg += fmt.Sprintf(" (at %s)", at)
	}
	return fmt.Errorf("%s: %s", p.field, msg)
}

// value parses the value whose first token is tok.
func (p *parser) value(tok json.Token, at string) (*node, error) {
	switch v := tok.(type) {
	case json.Delim:
		if v == '{' {
			return collapse(p.object(at))
		}
		return collapse(p.array(at))
	case string:
		return p.str(v, at)
	case json.Number:
		return &node{kind: kindLiteral, raw: []byte(v)}, nil
	case bool:
		if v {
			return &node{kind: kindLiteral, raw: []byte("true")}, nil
		}
		return &node{kind: kindLiteral, raw: []byte("false")}, nil
	case nil:
		return &node{kind: kindLiteral, raw: []byte("null")}, nil
	}
	return nil, p.errorf(at, "unexpected token %v", tok)
}

func (p *parser) object(at string) (*node, error) {
	n := &node{kind: kindObject}
	seen := map[string]bool{}
	for p.dec.More() {
		tok, err := p.dec.Token()
		if err != nil {
			return nil, p.errorf(at, "invalid JSON: %v", err)
		}
		key := tok.(string) // the decoder only yields string keys here
		if seen[key] {
			return nil, p.errorf(at, "duplicate key %q", key)
		}
		seen[key] = true
		if strings.Contains(key, "{{") {
			return nil, p.errorf(at, "placeholders are not allowed in keys (%q)", key)
		}
		kat := joinPath(at, key)
		tok, err = p.dec.Token()
		if err != nil {
			return nil, p.errorf(kat, "invalid JSON: %v", err)
		}
		kid, err := p.value(tok, kat)
		if err != nil {
			return nil, err
		}
		n.keys = append(n.keys, key)
		n.ekey = append(n.ekey, append(openai.AppendString(nil, key), ':'))
		n.kids = append(n.kids, kid)
	}
	if _, err := p.dec.Token(); err != nil { // the closing '}'
		return nil, p.errorf(at, "invalid JSON: %v", err)
	}
	return n, nil
}

func (p *parser) array(at string) (*node, error) {
	n := &node{kind: kindArray}
	for i := 0; p.dec.More(); i++ {
		eat := fmt.Sprintf("%s[%d]", at, i)
		tok, err := p.dec.Token()
		if err != nil {
			return nil, p.errorf(eat, "invalid JSON: %v", err)
		}
		kid, err := p.value(tok, eat)
		if err != nil {
			return nil, err
		}
		n.kids = append(n.kids, kid)
	}
	if _, err := p.dec.Token(); err != nil { // the closing ']'
		return nil, p.errorf(at, "invalid JSON: %v", err)
	}
	return n, nil
}

// str parses a string value: a literal, exactly one placeholder, or text
// with placeholders inside.
func (p *parser) str(s, at string) (*node, error) {
	var segs []segment
	rest := s
	for {
		i := strings.Index(rest, "{{")
		if i < 0 {
			break
		}
		j := strings.Index(rest[i+2:], "}}")
		if j < 0 {
			return nil, p.errorf(at, "unterminated placeholder %q", rest[i:])
		}
		name := rest[i+2 : i+2+j]
		ph, ok := lookupPlaceholder(strings.TrimSpace(name))
		if !ok {
			return nil, p.errorf(at, "unknown placeholder {{%s}}; known: %s", name, knownPlaceholders)
		}
		if i > 0 {
			segs = append(segs, segment{lit: rest[:i]})
		}
		segs = append(segs, segment{ph: ph})
		rest = rest[i+2+j+2:]
	}
	switch {
	case len(segs) == 0:
		return &node{kind: kindLiteral, raw: openai.AppendString(nil, s)}, nil
	case len(segs) == 1 && rest == "" && segs[0].ph != phNone:
		return &node{kind: kindValue, ph: segs[0].ph}, nil
	}
	if rest != "" {
		segs = append(segs, segment{lit: rest})
	}
	return &node{kind: kindText, text: segs}, nil
}

// collapse turns an object or array without placeholders into a literal.
func collapse(n *node, err error) (*node, error) {
	if err != nil {
		return nil, err
	}
	for _, k := range n.kids {
		if k.kind != kindLiteral {
			return n, nil
		}
	}
	return &node{kind: kindLiteral, raw: render(nil, n, nil)}, nil
}

// merge returns body with the top-level keys of extra: a key both have takes
// extra's value in body's position, the others are appended.
func merge(body, extra *node) *node {
	n := &node{kind: kindObject,
		keys: append([]string(nil), body.keys...),
		ekey: append([][]byte(nil), body.ekey...),
		kids: append([]*node(nil), body.kids...)}
	for i, key := range extra.keys {
		j := indexOf(n.keys, key)
		if j < 0 {
			n.keys = append(n.keys, key)
			n.ekey = append(n.ekey, extra.ekey[i])
			n.kids = append(n.kids, extra.kids[i])
			continue
		}
		n.kids[j] = extra.kids[i]
	}
	return n
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

func joinPath(at, key string) string {
	if at == "" {
		return key
	}
	return at + "." + key
}
