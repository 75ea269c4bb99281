package gemini

import (
	"maps"
	"slices"
	"strconv"
	"strings"
)

// ref writes the schema obj, whose "$ref" is ref: as a reference when
// Gemini can resolve it, else as a copy of what it refers to (see the rules
// in schema.go).
func (w *schemaWriter) ref(obj map[string]any, ref string, expanding []string) {
	target, found := resolvePointer(w.root, ref)
	siblings := hasPlainSiblings(obj)
	if found && !siblings {
		if out, ok := w.geminiRef(ref); ok {
			w.keepRef(obj, out, expanding)
			return
		}
	}
	if !found || slices.Contains(expanding, ref) || len(expanding) >= maxRefDepth {
		out, ok := w.geminiRef(ref)
		if !ok {
			out = ref
		}
		w.keepRef(obj, out, expanding)
		return
	}
	w.changed = true
	inner := append(expanding[:len(expanding):len(expanding)], ref)
	tm, isMap := target.(map[string]any)
	if !siblings {
		w.schema(target, inner) // a pointer Gemini cannot follow
		return
	}
	if next, chained := tm["$ref"].(string); chained {
		// A reference to a reference: the siblings go with the next one.
		merged := maps.Clone(tm)
		for k, v := range obj {
			if k != "$ref" {
				merged[k] = v
			}
		}
		w.ref(merged, next, inner)
		return
	}
	// Siblings of $ref apply together with the referenced schema; merging
	// them over it keeps their annotations (description, default) and adds
	// their constraints. A boolean target has no keywords to merge.
	if !isMap {
		tm = nil
	}
	w.buf.WriteByte('{')
	w.writeMembers(w.members(tm, inner, obj, expanding))
	w.buf.WriteByte('}')
}

// geminiRef returns ref as it goes out when Gemini can resolve it itself:
// the root, or a definition at the root (a "definitions" entry is renamed
// along with its keyword).
func (w *schemaWriter) geminiRef(ref string) (string, bool) {
	if ref == "#" {
		return ref, true
	}
	if name, ok := strings.CutPrefix(ref, "#/$defs/"); ok && !strings.Contains(name, "/") {
		_, hasDefs := w.root["$defs"].(map[string]any)
		return ref, hasDefs
	}
	if name, ok := strings.CutPrefix(ref, "#/definitions/"); ok && !strings.Contains(name, "/") && w.renameDefs {
		w.changed = true
		return "#/$defs/" + name, true
	}
	return "", false
}

// keepRef writes obj as the reference out, with only its "$"-prefixed
// keywords, which is all Gemini allows next to "$ref".
func (w *schemaWriter) keepRef(obj map[string]any, out string, expanding []string) {
	w.keptRefs = true
	w.buf.WriteByte('{')
	w.key("$ref")
	w.value(out)
	for _, k := range slices.Sorted(maps.Keys(obj)) {
		switch {
		case k == "$ref":
		case k == "$schema" || !strings.HasPrefix(k, "$"):
			w.changed = true
		default:
			w.buf.WriteByte(',')
			w.key(k)
			if k == "$defs" {
				w.schemaMap(obj[k], expanding)
			} else {
				w.value(obj[k])
			}
		}
	}
	w.buf.WriteByte('}')
}

// hasPlainSiblings reports whether obj has a keyword that does not start
// with "$", which Gemini refuses next to "$ref".
func hasPlainSiblings(obj map[string]any) bool {
	for k := range obj {
		if !strings.HasPrefix(k, "$") {
			return true
		}
	}
	return false
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
	for tok := range strings.SplitSeq(ref[2:], "/") {
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
