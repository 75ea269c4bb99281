package messages

import (
	"hash/fnv"
	"net/http"
	"strconv"
	"strings"

	"github.com/tidwall/gjson"

	"aigateway/internal/adapter"
	"aigateway/internal/inbound"
	"aigateway/internal/openai"
)

// Response implements inbound.Request: a Chat Completions answer becomes a
// Message. Its content is the reasoning as a thinking block (signed, see
// thinking.go), the text, then one tool_use per tool call with the
// arguments parsed (arguments that are not a JSON object become {}: the
// client's schema check then tells the model what is missing, which is
// better than an input that is not an object, which Anthropic clients
// cannot represent). stop_reason is tool_use whenever there are tool calls
// (OpenAI sometimes finishes them with "stop"), max_tokens for length,
// refusal for content_filter, else end_turn: Chat Completions does not say
// whether a stop sequence matched.
func (r *Request) Response(t inbound.Target, chat []byte) ([]byte, error) {
	if !gjson.ValidBytes(chat) {
		return nil, upstreamError("the upstream's answer is not valid JSON")
	}
	doc := gjson.ParseBytes(chat)
	choice := doc.Get("choices.0")
	if !choice.Exists() {
		return nil, upstreamError("the upstream's answer has no choices")
	}
	msg := choice.Get("message")
	var u usage
	u.read(doc.Get("usage"))

	b := make([]byte, 0, len(chat)+128)
	b = append(b, `{"id":`...)
	b = openai.AppendString(b, messageID(doc.Get("id").Str, chat))
	b = append(b, `,"type":"message","role":"assistant","model":`...)
	b = openai.AppendString(b, r.model)
	b = append(b, `,"content":[`...)
	n := 0
	sep := func() {
		if n > 0 {
			b = append(b, ',')
		}
		n++
	}
	outBytes := 0
	sig := protocolDeployment{t.Upstream, t.Deployment}
	if up := upstreamSignature(sig, msg.Get("reasoning_signature").Str); up != "" {
		// Anthropic's blocks, rebuilt as they were (README "Reasoning").
		th := reasoningText(msg)
		outBytes += len(th)
		for _, tok := range strings.Fields(up) {
			sep()
			if data, ok := strings.CutPrefix(tok, redactedPrefix); ok {
				b = append(b, `{"type":"redacted_thinking","data":`...)
				b = openai.AppendString(b, data)
			} else {
				b = append(b, `{"type":"thinking","thinking":`...)
				b = openai.AppendString(b, th)
				b = append(b, `,"signature":`...)
				b = openai.AppendString(b, tok)
			}
			b = append(b, '}')
		}
	} else if th := reasoningText(msg); th != "" {
		sep()
		outBytes += len(th)
		b = append(b, `{"type":"thinking","thinking":`...)
		b = openai.AppendString(b, th)
		b = append(b, `,"signature":`...)
		b = openai.AppendString(b, signThinking(sig, th))
		b = append(b, '}')
	}
	text := contentText(msg.Get("content"))
	if text == "" {
		text = msg.Get("refusal").Str
	}
	if text != "" {
		sep()
		outBytes += len(text)
		b = appendTextPart(b, text)
	}
	calls := 0
	msg.Get("tool_calls").ForEach(func(_, tc gjson.Result) bool {
		sep()
		calls++
		args := tc.Get("function.arguments").Str
		outBytes += len(args)
		id := tc.Get("id").Str
		if id == "" {
			id = "call_" + strconv.Itoa(calls)
		}
		b = append(b, `{"type":"tool_use","id":`...)
		b = openai.AppendString(b, clientID(id))
		b = append(b, `,"name":`...)
		b = openai.AppendString(b, tc.Get("function.name").Str)
		b = append(b, `,"input":`...)
		b = appendInput(b, args)
		b = append(b, '}')
		return true
	})
	b = append(b, `],"stop_reason":"`...)
	b = append(b, stopReason(choice.Get("finish_reason").Str, calls > 0)...)
	b = append(b, `","stop_sequence":null,"usage":{`...)
	g := u.gateway(r.EstimateInputTokens(), outBytes)
	input := u.input()
	if !u.known {
		input = g.PromptTokens
	}
	out := g.CompletionTokens
	if out < 1 {
		out = 1
	}
	b = u.appendAnthropic(b, input, out)
	return append(b, "}}"...), nil
}

func upstreamError(msg string) *inbound.Error {
	return &inbound.Error{Status: http.StatusBadGateway, Type: openai.TypeUpstream, Message: msg}
}

// ResponseUsage returns the usage of a Chat Completions answer converted by
// Response, in the gateway's terms (estimated where the upstream did not
// report it).
func (r *Request) ResponseUsage(chat []byte) adapter.Usage {
	var u usage
	u.read(gjson.GetBytes(chat, "usage"))
	return u.gateway(r.EstimateInputTokens(), len(chat))
}

// messageID is the Message id for a chat completion id: "msg_" and the id
// without its "chatcmpl-" prefix, or a hash of the body when there is none.
func messageID(chatID string, body []byte) string {
	chatID = strings.TrimPrefix(chatID, "chatcmpl-")
	if chatID == "" {
		h := fnv.New64a()
		h.Write(body) //nolint:errcheck // hash writes never fail
		return "msg_" + strconv.FormatUint(h.Sum64(), 36)
	}
	return "msg_" + chatID
}

// reasoningText is a message's or delta's reasoning: reasoning_content
// (DeepSeek, vLLM, most compatible servers) or reasoning (OpenRouter,
// newer vLLM).
func reasoningText(v gjson.Result) string {
	if s := v.Get("reasoning_content").Str; s != "" {
		return s
	}
	return v.Get("reasoning").Str
}

// contentText is a message's content: the string, or its text parts joined.
func contentText(c gjson.Result) string {
	if c.Type == gjson.String {
		return c.Str
	}
	var sb strings.Builder
	c.ForEach(func(_, p gjson.Result) bool {
		sb.WriteString(p.Get("text").Str)
		return true
	})
	return sb.String()
}

// appendInput appends a tool call's arguments as a tool_use input: the JSON
// object itself, or {} when the arguments are empty or not an object.
func appendInput(b []byte, args string) []byte {
	a := strings.TrimSpace(args)
	if a == "" || a[0] != '{' || !gjson.Valid(a) {
		return append(b, "{}"...)
	}
	return append(b, a...)
}

// stopReason maps a finish_reason (PROTOCOLS.md 6.3).
func stopReason(finish string, toolCalls bool) string {
	if toolCalls {
		return "tool_use"
	}
	switch finish {
	case "length":
		return "max_tokens"
	case "content_filter":
		return "refusal"
	}
	// "tool_calls" without tool calls, "stop" and anything else: a
	// tool_use stop without a tool_use block would leave the client
	// waiting for a call that does not exist.
	return "end_turn"
}
