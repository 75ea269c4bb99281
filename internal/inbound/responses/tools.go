package responses

import (
	"log/slog"

	"github.com/tidwall/gjson"

	"aigateway/internal/openai"
)

// toolOrigin says where a function the upstream sees came from.
type toolOrigin struct {
	// custom: a freeform tool (Codex's apply_patch), sent upstream as a
	// function with one string parameter "input"; its calls must go back
	// as custom_tool_call items, never function_call (Codex aborts with
	// "incompatible payload" otherwise, awsl-project/maxx PR 813).
	custom bool
	// namespace is the namespace tool holding the function, which a
	// function_call item names.
	namespace string
}

// toolOrigins maps the functions that need more than a function_call item
// back; plain functions are absent.
func toolOrigins(tools gjson.Result) map[string]toolOrigin {
	var m map[string]toolOrigin
	add := func(name string, o toolOrigin) {
		if m == nil {
			m = make(map[string]toolOrigin)
		}
		if _, dup := m[name]; !dup {
			m[name] = o
		}
	}
	tools.ForEach(func(_, t gjson.Result) bool {
		switch t.Get("type").Str {
		case "custom":
			add(t.Get("name").Str, toolOrigin{custom: true})
		case "namespace":
			ns := t.Get("name").Str
			t.Get("tools").ForEach(func(_, f gjson.Result) bool {
				switch f.Get("type").Str {
				case "function":
					add(f.Get("name").Str, toolOrigin{namespace: ns})
				case "custom":
					add(f.Get("name").Str, toolOrigin{custom: true, namespace: ns})
				}
				return true
			})
		}
		return true
	})
	return m
}

// emptyParameters stands in for a function without parameters: Chat
// upstreams want an object schema.
const emptyParameters = `{"type":"object","properties":{}}`

// appendTools appends the Chat Completions tools (without the enclosing
// array) and returns how many there are. Function and custom tools are
// converted, namespace tools flattened; built-in tools (web_search,
// file_search, tool_search, computer use, MCP, ...) run on OpenAI's
// servers or need items Chat cannot carry, and are dropped.
func appendTools(dst []byte, tools gjson.Result) ([]byte, int) {
	n := 0
	var dropped []string
	var one func(t gjson.Result)
	one = func(t gjson.Result) {
		switch typ := t.Get("type").Str; typ {
		case "function":
			name := t.Get("name").Str
			if name == "" {
				return
			}
			dst = sep(dst, n)
			n++
			dst = append(dst, `{"type":"function","function":{"name":`...)
			dst = openai.AppendString(dst, name)
			if d := t.Get("description"); d.Type == gjson.String && d.Str != "" {
				dst = append(dst, `,"description":`...)
				dst = append(dst, d.Raw...)
			}
			dst = append(dst, `,"parameters":`...)
			if p := t.Get("parameters"); p.IsObject() {
				dst = append(dst, p.Raw...)
			} else {
				dst = append(dst, emptyParameters...)
			}
			if t.Get("strict").Type == gjson.True {
				dst = append(dst, `,"strict":true`...)
			}
			dst = append(dst, "}}"...)
		case "custom":
			name := t.Get("name").Str
			if name == "" {
				return
			}
			dst = sep(dst, n)
			n++
			dst = append(dst, `{"type":"function","function":{"name":`...)
			dst = openai.AppendString(dst, name)
			dst = append(dst, `,"description":`...)
			dst = openai.AppendString(dst, customDescription(t))
			dst = append(dst, `,"parameters":{"type":"object","properties":{"input":{"type":"string","description":"The tool's raw input: free text in the format the tool describes, not JSON."}},"required":["input"],"additionalProperties":false}}}`...)
		case "namespace":
			t.Get("tools").ForEach(func(_, f gjson.Result) bool {
				one(f)
				return true
			})
		default:
			dropped = append(dropped, typ)
		}
	}
	tools.ForEach(func(_, t gjson.Result) bool {
		one(t)
		return true
	})
	if len(dropped) > 0 {
		slog.Debug("responses: built-in tools dropped for a converted request", "types", dropped)
	}
	return dst, n
}

// customDescription is the description of the function standing in for a
// custom tool: the tool's own, with its input format spelled out since the
// upstream cannot enforce a grammar.
func customDescription(t gjson.Result) string {
	d := t.Get("description").Str
	f := t.Get("format")
	switch f.Get("type").Str {
	case "grammar":
		d += "\n\nPut the tool's raw input, free text and not JSON, in the \"input\" parameter. The input must match this " +
			f.Get("syntax").Str + " grammar:\n" + f.Get("definition").Str
	default:
		d += "\n\nPut the tool's raw input, free text and not JSON, in the \"input\" parameter."
	}
	return d
}

// appendToolChoice appends the Chat tool_choice for the Responses one, or
// nothing when it means the default (auto).
func appendToolChoice(dst []byte, tc gjson.Result) []byte {
	switch tc.Type {
	case gjson.String:
		switch tc.Str {
		case "none", "required":
			return append(append(dst, `,"tool_choice":`...), tc.Raw...)
		}
		return dst
	case gjson.JSON:
	default:
		return dst
	}
	switch tc.Get("type").Str {
	case "function", "custom":
		if name := tc.Get("name").Str; name != "" {
			dst = append(dst, `,"tool_choice":{"type":"function","function":{"name":`...)
			dst = openai.AppendString(dst, name)
			return append(dst, "}}"...)
		}
	case "allowed_tools":
		// Chat's allowed_tools exists at OpenAI only; the mode survives
		// everywhere.
		if tc.Get("mode").Str == "required" {
			return append(dst, `,"tool_choice":"required"`...)
		}
	}
	return dst
}

func sep(dst []byte, n int) []byte {
	if n > 0 {
		return append(dst, ',')
	}
	return dst
}
