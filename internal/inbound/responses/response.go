package responses

import (
	"fmt"
	"net/http"

	"github.com/tidwall/gjson"

	"aigateway/internal/inbound"
	"aigateway/internal/openai"
)

// Response implements inbound.Request: the Chat Completions answer of the
// deployment t as a response object. The response is stored before it is
// returned (when the client lets it be), so the follow-up finds it.
func (q *request) Response(t inbound.Target, chat []byte) ([]byte, error) {
	if !gjson.ValidBytes(chat) {
		return nil, &inbound.Error{Status: http.StatusBadGateway, Type: openai.TypeUpstream, Code: "upstream_invalid_response",
			Message: fmt.Sprintf("model %q: the upstream's answer is not valid JSON", q.model)}
	}
	root := gjson.ParseBytes(chat)
	choice := root.Get("choices.0")
	msg := choice.Get("message")
	out := make([]byte, 0, len(chat)+256)
	var id []byte
	n := 0
	next := func(prefix string) []byte {
		out = sep(out, n)
		id = itemID(id[:0], prefix, q.id, n)
		n++
		return id
	}
	if r, sig := reasoningOf(msg), msg.Get("reasoning_signature").Str; r != "" || sig != "" {
		out = appendReasoningItem(out, next("rs_"), r, mintReasoning(t, r, sig), true)
	}
	calls := msg.Get("tool_calls")
	text, refusal := msg.Get("content").Str, msg.Get("refusal").Str
	o := outcomeOf(choice.Get("finish_reason").Str)
	if text != "" || refusal != "" || len(calls.Array()) == 0 {
		status := "completed"
		if o.status == "incomplete" {
			status = "incomplete"
		}
		out = appendMessageItem(out, next("msg_"), text, refusal, status, true)
	}
	calls.ForEach(func(_, tc gjson.Result) bool {
		c := call{callID: tc.Get("id").Str, name: tc.Get("function.name").Str, args: []byte(tc.Get("function.arguments").Str)}
		c.origin = q.tools[c.name]
		var cid []byte
		if c.origin.custom {
			cid = next("ctc_")
		} else {
			cid = next("fc_")
		}
		if c.callID == "" {
			c.callID = "call_" + string(cid)
		}
		out = appendCallItem(out, cid, &c, true)
		return true
	})
	h := q.header()
	obj := h.appendObject(make([]byte, 0, len(out)+len(q.echo)+256), o, out, usageOf(root.Get("usage")))
	q.save(obj, out)
	return obj, nil
}

// reasoningOf reads the reasoning an OpenAI-compatible upstream sends
// beside the content: reasoning_content (DeepSeek, vLLM) or reasoning
// (OpenRouter, Ollama, newer vLLM).
func reasoningOf(v gjson.Result) string {
	if r := v.Get("reasoning_content"); r.Type == gjson.String && r.Str != "" {
		return r.Str
	}
	if r := v.Get("reasoning"); r.Type == gjson.String {
		return r.Str
	}
	return ""
}
