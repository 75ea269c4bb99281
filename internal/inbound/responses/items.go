package responses

import (
	"strconv"

	"github.com/tidwall/gjson"

	"aigateway/internal/openai"
)

// Output items, as the Responses API writes them. Item ids are the
// response id's suffix with the item's output index, so that one random id
// names everything.

func itemID(dst []byte, prefix, respID string, index int) []byte {
	dst = append(dst, prefix...)
	dst = append(dst, respID[len("resp_"):]...)
	dst = append(dst, '_')
	return strconv.AppendInt(dst, int64(index), 10)
}

// appendReasoningItem appends a reasoning item with its summary (empty
// text: the item as response.output_item.added announces it, summary []).
func appendReasoningItem(dst []byte, id []byte, text, encrypted string, done bool) []byte {
	dst = append(dst, `{"id":"`...)
	dst = append(dst, id...)
	dst = append(dst, `","type":"reasoning","summary":[`...)
	if done {
		dst = append(dst, `{"type":"summary_text","text":`...)
		dst = openai.AppendString(dst, text)
		dst = append(dst, `}],"encrypted_content":`...)
		dst = openai.AppendString(dst, encrypted)
		return append(dst, '}')
	}
	return append(dst, "]}"...)
}

// appendMessageItem appends an assistant message item; done false gives
// the in_progress item without content.
func appendMessageItem(dst []byte, id []byte, text, refusal string, status string, done bool) []byte {
	dst = append(dst, `{"id":"`...)
	dst = append(dst, id...)
	dst = append(dst, `","type":"message","status":"`...)
	dst = append(dst, status...)
	dst = append(dst, `","role":"assistant","content":[`...)
	if done {
		if refusal != "" {
			dst = appendRefusalPart(dst, refusal)
		} else {
			dst = appendTextPart(dst, text)
		}
	}
	return append(dst, "]}"...)
}

func appendTextPart(dst []byte, text string) []byte {
	dst = append(dst, `{"type":"output_text","annotations":[],"logprobs":[],"text":`...)
	dst = openai.AppendString(dst, text)
	return append(dst, '}')
}

func appendRefusalPart(dst []byte, refusal string) []byte {
	dst = append(dst, `{"type":"refusal","refusal":`...)
	dst = openai.AppendString(dst, refusal)
	return append(dst, '}')
}

// call is a tool call of the answer.
type call struct {
	callID, name string
	origin       toolOrigin
	args         []byte // the JSON arguments, as streamed
}

// input is a custom tool call's input: the "input" string of the
// arguments, or the arguments themselves when the model did not use the
// parameter as told.
func (c *call) input() string {
	v := gjson.GetBytes(c.args, "input")
	if v.Type == gjson.String {
		return v.Str
	}
	return string(c.args)
}

// appendCallItem appends a function_call or, for a custom tool,
// custom_tool_call item; done false gives the in_progress item with empty
// arguments or input.
func appendCallItem(dst []byte, id []byte, c *call, done bool) []byte {
	dst = append(dst, `{"id":"`...)
	dst = append(dst, id...)
	if c.origin.custom {
		dst = append(dst, `","type":"custom_tool_call","status":"`...)
	} else {
		dst = append(dst, `","type":"function_call","status":"`...)
	}
	if done {
		dst = append(dst, `completed","call_id":`...)
	} else {
		dst = append(dst, `in_progress","call_id":`...)
	}
	dst = openai.AppendString(dst, c.callID)
	dst = append(dst, `,"name":`...)
	dst = openai.AppendString(dst, c.name)
	if c.origin.namespace != "" {
		dst = append(dst, `,"namespace":`...)
		dst = openai.AppendString(dst, c.origin.namespace)
	}
	switch {
	case c.origin.custom && done:
		dst = append(dst, `,"input":`...)
		dst = openai.AppendString(dst, c.input())
	case c.origin.custom:
		dst = append(dst, `,"input":""`...)
	case done:
		dst = append(dst, `,"arguments":`...)
		dst = openai.AppendString(dst, string(c.args))
	default:
		dst = append(dst, `,"arguments":""`...)
	}
	return append(dst, '}')
}
