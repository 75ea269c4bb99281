package gemini

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/tidwall/gjson"

	"aigateway/internal/jsonlimit"
)

// decodeResponse decodes one GenerateContentResponse exactly as
// adapter.DecodeJSON would, and as fast as the common stream event allows.
// encoding/json was most of the cost of a converted Gemini stream (its
// reflection walk and the allocation of every field); fastResponse reads the
// usual event (text and thought parts, finish reason, usage, ids) with gjson
// instead and leaves everything else to encoding/json.
func decodeResponse(data []byte, r *generateContentResponse) error {
	if err := jsonlimit.Validate(data); err != nil {
		return err
	}
	if fastResponse(data, r) {
		return nil
	}
	*r = generateContentResponse{} // what the fast path left half done
	return json.Unmarshal(data, r)
}

// The JSON names of the fields of each decoded type. A key that matches one
// of them only without regard to case (encoding/json matches it) sends the
// event to encoding/json; any other key is ignored, as encoding/json does.
var (
	responseKeys  = []string{"candidates", "promptFeedback", "usageMetadata", "modelVersion", "responseId", "error"}
	candidateKeys = []string{"content", "finishReason", "index", "logprobsResult"}
	contentKeys   = []string{"role", "parts"}
	partKeys      = []string{"text", "thought", "inlineData", "functionCall", "functionResponse", "thoughtSignature", "fileData"}
	feedbackKeys  = []string{"blockReason"}
	usageKeys     = []string{"promptTokenCount", "candidatesTokenCount", "thoughtsTokenCount", "cachedContentTokenCount", "totalTokenCount"}
)

// fastResponse decodes data, valid JSON, into *r when every field it holds is one
// this reader handles, each at most once and of the expected type; ok is
// false otherwise (an error, a function call, media, logprobs, a null, a
// duplicate or case-folded key, a number that is not a plain integer, a key
// with escapes), and then encoding/json decides. Where it returns ok, the
// result is exactly what encoding/json would decode (FuzzFastResponse).
func fastResponse(data []byte, r *generateContentResponse) bool {
	root := gjson.ParseBytes(data)
	if !root.IsObject() {
		return false
	}
	ok := true
	var seen uint
	root.ForEach(func(k, v gjson.Result) bool {
		switch k.Raw {
		case `"candidates"`:
			ok = once(&seen, 0) && fastCandidates(v, &r.Candidates)
		case `"promptFeedback"`:
			ok = once(&seen, 1) && v.IsObject()
			if ok {
				r.PromptFeedback = &promptFeedback{}
				ok = fastFeedback(v, r.PromptFeedback)
			}
		case `"usageMetadata"`:
			ok = once(&seen, 2) && v.IsObject()
			if ok {
				r.UsageMetadata = &usageMetadata{}
				ok = fastUsage(v, r.UsageMetadata)
			}
		case `"modelVersion"`:
			ok = once(&seen, 3) && fastString(v, &r.ModelVersion)
		case `"responseId"`:
			ok = once(&seen, 4) && fastString(v, &r.ResponseID)
		default:
			ok = ignorable(k, responseKeys)
		}
		return ok
	})
	return ok
}

func fastCandidates(v gjson.Result, dst *[]candidate) bool {
	if !v.IsArray() {
		return false
	}
	cands := make([]candidate, 0, 1)
	ok := true
	v.ForEach(func(_, c gjson.Result) bool {
		cands = append(cands, candidate{})
		ok = fastCandidate(c, &cands[len(cands)-1])
		return ok
	})
	*dst = cands
	return ok
}

func fastCandidate(v gjson.Result, c *candidate) bool {
	if !v.IsObject() {
		return false
	}
	ok := true
	var seen uint
	v.ForEach(func(k, v gjson.Result) bool {
		switch k.Raw {
		case `"content"`:
			ok = once(&seen, 0) && v.IsObject()
			if ok {
				c.Content = &content{}
				ok = fastContent(v, c.Content)
			}
		case `"finishReason"`:
			ok = once(&seen, 1) && fastString(v, &c.FinishReason)
		case `"index"`:
			var n int64
			ok = once(&seen, 2) && fastInt(v, &n)
			if ok {
				i := int(n)
				c.Index = &i
			}
		default:
			ok = ignorable(k, candidateKeys)
		}
		return ok
	})
	return ok
}

func fastContent(v gjson.Result, c *content) bool {
	ok := true
	var seen uint
	v.ForEach(func(k, v gjson.Result) bool {
		switch k.Raw {
		case `"role"`:
			ok = once(&seen, 0) && fastString(v, &c.Role)
		case `"parts"`:
			ok = once(&seen, 1) && v.IsArray()
			if !ok {
				break
			}
			parts := make([]part, 0, 1)
			v.ForEach(func(_, p gjson.Result) bool {
				parts = append(parts, part{})
				ok = fastPart(p, &parts[len(parts)-1])
				return ok
			})
			c.Parts = parts
		default:
			ok = ignorable(k, contentKeys)
		}
		return ok
	})
	return ok
}

func fastPart(v gjson.Result, p *part) bool {
	if !v.IsObject() {
		return false
	}
	ok := true
	var seen uint
	v.ForEach(func(k, v gjson.Result) bool {
		switch k.Raw {
		case `"text"`:
			ok = once(&seen, 0) && fastString(v, &p.Text)
		case `"thought"`:
			ok = once(&seen, 1) && (v.Type == gjson.True || v.Type == gjson.False)
			p.Thought = v.Type == gjson.True
		case `"thoughtSignature"`:
			ok = once(&seen, 2) && fastString(v, &p.ThoughtSignature)
		default:
			ok = ignorable(k, partKeys)
		}
		return ok
	})
	return ok
}

func fastFeedback(v gjson.Result, f *promptFeedback) bool {
	ok := true
	var seen uint
	v.ForEach(func(k, v gjson.Result) bool {
		if k.Raw == `"blockReason"` {
			ok = once(&seen, 0) && fastString(v, &f.BlockReason)
		} else {
			ok = ignorable(k, feedbackKeys)
		}
		return ok
	})
	return ok
}

func fastUsage(v gjson.Result, u *usageMetadata) bool {
	ok := true
	var seen uint
	v.ForEach(func(k, v gjson.Result) bool {
		var dst **int64
		var bit uint
		switch k.Raw {
		case `"promptTokenCount"`:
			dst, bit = &u.PromptTokenCount, 0
		case `"candidatesTokenCount"`:
			dst, bit = &u.CandidatesTokenCount, 1
		case `"thoughtsTokenCount"`:
			dst, bit = &u.ThoughtsTokenCount, 2
		case `"cachedContentTokenCount"`:
			dst, bit = &u.CachedContentTokenCount, 3
		case `"totalTokenCount"`:
			dst, bit = &u.TotalTokenCount, 4
		default:
			ok = ignorable(k, usageKeys)
			return ok
		}
		var n int64
		ok = once(&seen, bit) && fastInt(v, &n)
		if ok {
			*dst = &n
		}
		return ok
	})
	return ok
}

// once marks field bit as seen and reports whether it was not seen before:
// encoding/json merges a repeated object into the first one, which the
// fast path does not imitate.
func once(seen *uint, bit uint) bool {
	if *seen&(1<<bit) != 0 {
		return false
	}
	*seen |= 1 << bit
	return true
}

// ignorable reports whether encoding/json ignores key k in an object with
// the fields names: no name matches it, even without regard to case. A key
// with escapes or invalid UTF-8 is not judged here.
func ignorable(k gjson.Result, names []string) bool {
	raw := k.Raw
	if len(raw) < 2 || strings.IndexByte(raw, '\\') >= 0 || !utf8.ValidString(raw) {
		return false
	}
	name := raw[1 : len(raw)-1]
	for _, n := range names {
		if strings.EqualFold(name, n) {
			return false
		}
	}
	return true
}

// fastString sets *dst to the JSON string v. Without escapes (the usual
// case) the text is the raw bytes; simple escapes are gjson's; \u escapes
// and invalid UTF-8 (where encoding/json substitutes U+FFFD) go through
// encoding/json, whose rules for them are subtle.
func fastString(v gjson.Result, dst *string) bool {
	if v.Type != gjson.String {
		return false
	}
	raw := v.Raw
	if !utf8.ValidString(raw) || strings.Contains(raw, `\u`) {
		return json.Unmarshal([]byte(raw), dst) == nil
	}
	if strings.IndexByte(raw, '\\') < 0 {
		*dst = raw[1 : len(raw)-1]
	} else {
		*dst = v.Str
	}
	return true
}

// fastInt sets *dst to the JSON number v when it is a plain integer, as
// encoding/json reads it into an integer field; 1.0 or 1e3 are not.
func fastInt(v gjson.Result, dst *int64) bool {
	if v.Type != gjson.Number {
		return false
	}
	n, err := strconv.ParseInt(v.Raw, 10, 64)
	*dst = n
	return err == nil
}
