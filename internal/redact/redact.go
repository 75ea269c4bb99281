// Package redact keeps secrets (upstream API keys, credential headers) out
// of text that goes to a client or a log, in whatever form an upstream
// echoed them:
//
//   - raw;
//   - URL-encoded, as url.QueryEscape ("+" for a space) or url.PathEscape
//     would write it, with upper- or lower-case hex;
//   - base64, standard or URL alphabet, padded or not, at any of the three
//     byte alignments, so that a key inside a longer blob is found too
//     (base64("user:KEY"), an echoed Basic authorization header);
//   - JSON-escaped in any way: a JSON string may write any character as
//     \uXXXX and "/" as \/, which no byte search can find, so escaped text
//     is decoded and searched for all of the above; this goes a few levels
//     deep (a JSON document quoted inside a JSON string, and so on).
//
// Each occurrence becomes [Replacement]. A base64 occurrence takes the whole
// base64 word around it, whose edge characters also carry bits of the key.
//
// Short secrets: every secret is redacted raw, URL-encoded and
// JSON-escaped, however short. Its base64 forms are searched only from
// [MinBase64Len] bytes on: a shifted base64 form of a shorter secret has so
// few characters that it would turn up by chance in unrelated base64 data.
//
// Redaction is for error paths: it costs a few substring searches when the
// text holds no secret and no backslash, and a decode of the escaped parts
// when it does.
package redact

import (
	"bytes"
	"encoding/json"
	"strings"
)

// Replacement stands in for a secret.
const Replacement = "[redacted]"

// MinBase64Len is the length in bytes from which a secret's base64 forms
// are searched. Each shifted form of an 8-byte secret is 10 characters (60
// bits), which unrelated data does not match by chance.
const MinBase64Len = 8

// maxDepth bounds how many layers of escaping are undone. Text escaped more
// deeply than that which still hides a secret is replaced whole.
const maxDepth = 4

// quotedReplacement is Replacement as a JSON string, for a JSON value that
// held a secret outside a string.
const quotedReplacement = `"` + Replacement + `"`

// Redactor removes a fixed set of secrets from text. A nil *Redactor
// removes nothing. It is safe for concurrent use.
type Redactor struct {
	patterns []pattern // every form of every secret, each once
}

// pattern is one form of a secret, found by exact byte search.
type pattern struct {
	text  string
	bytes []byte // text
	// base64 widens a match to the whole base64 word around it.
	base64 bool
}

// New returns a Redactor for the given secrets; empty ones are ignored.
// All forms are computed here, once per deployment.
func New(secrets ...string) *Redactor {
	r := &Redactor{}
	index := map[string]int{}
	add := func(text string, base64 bool) {
		if i, ok := index[text]; ok {
			r.patterns[i].base64 = r.patterns[i].base64 || base64
			return
		}
		index[text] = len(r.patterns)
		r.patterns = append(r.patterns, pattern{text: text, bytes: []byte(text), base64: base64})
	}
	for _, s := range secrets {
		if s == "" {
			continue
		}
		add(s, false)
		for _, f := range urlForms(s) {
			add(f, false)
		}
		if len(s) >= MinBase64Len {
			for _, f := range base64Forms(s) {
				add(f, true)
			}
		}
	}
	return r
}

// Bytes returns b with every secret replaced. It returns b itself when b
// holds none, and a new slice otherwise. When b is valid JSON, so is the
// result: a string that held a secret is re-encoded with the secret
// replaced, and a number or literal that held one becomes the string
// "[redacted]".
func (r *Redactor) Bytes(b []byte) []byte {
	if r == nil || len(r.patterns) == 0 {
		return b
	}
	out, _ := r.redact(b, 0)
	return out
}

// String is Bytes for a string.
func (r *Redactor) String(s string) string {
	if r == nil || len(r.patterns) == 0 || !r.mayHold(s) {
		return s
	}
	out, changed := r.redact([]byte(s), 0)
	if !changed {
		return s
	}
	return string(out)
}

// mayHold reports whether s holds a form of a secret or an escape that
// might hide one.
func (r *Redactor) mayHold(s string) bool {
	if strings.IndexByte(s, '\\') >= 0 {
		return true
	}
	for _, p := range r.patterns {
		if strings.Contains(s, p.text) {
			return true
		}
	}
	return false
}

// redact replaces the secrets in b, whose escapes have been undone depth
// times, and reports whether it changed anything.
func (r *Redactor) redact(b []byte, depth int) ([]byte, bool) {
	escaped := bytes.IndexByte(b, '\\') >= 0
	if !escaped && !r.found(b) {
		return b, false
	}
	if depth >= maxDepth {
		out, changed := r.replaceForms(b)
		if r.hiddenDeeper(out) {
			return []byte(Replacement), true // fail closed
		}
		return out, changed
	}
	if json.Valid(b) {
		return r.redactJSON(b, depth)
	}
	return r.redactText(b, depth)
}

// hiddenDeeper reports whether undoing the escapes of b, again and again,
// reveals a secret. Each round shortens the text, so this ends.
func (r *Redactor) hiddenDeeper(b []byte) bool {
	for {
		var ok bool
		if b, ok = unescape(b); !ok {
			return false
		}
		if r.found(b) {
			return true
		}
	}
}

// redactText redacts text that is not JSON. When undoing its escapes
// reveals a secret, the result is the unescaped text, redacted: such text
// is rare, and readable beats faithful there.
func (r *Redactor) redactText(b []byte, depth int) ([]byte, bool) {
	out, changed := r.replaceForms(b)
	if d, ok := unescape(out); ok {
		if red, hidden := r.redact(d, depth+1); hidden {
			return red, true
		}
	}
	return out, changed
}
