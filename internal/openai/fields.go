package openai

import (
	"strings"
	"unicode/utf8"
)

// field numbers the top-level request fields that some part of the gateway
// reads: Peek itself, the converters through DecodeChatRequest (the json
// tags of ChatRequest) and the Gemini embeddings converter.
type field uint8

const (
	fieldModel field = iota
	fieldMessages
	fieldStream
	fieldStreamOptions
	fieldTemperature
	fieldTopP
	fieldMaxTokens
	fieldMaxCompletionTokens
	fieldStop
	fieldN
	fieldSeed
	fieldUser
	fieldSafetyIdentifier
	fieldTools
	fieldToolChoice
	fieldParallelToolCalls
	fieldResponseFormat
	fieldPresencePenalty
	fieldFrequencyPenalty
	fieldLogprobs
	fieldTopLogprobs
	fieldLogitBias
	fieldReasoningEffort
	fieldInput          // embeddings
	fieldEncodingFormat // embeddings
	fieldDimensions     // embeddings
	numFields
	noField field = numFields
)

// Peek keeps one bit per field in a uint64; this fails to compile when the
// list outgrows it.
const _ = 64 - numFields

// knownFields are the names of the fields, in the order of the constants.
var knownFields = [numFields]string{
	"model", "messages", "stream", "stream_options", "temperature", "top_p",
	"max_tokens", "max_completion_tokens", "stop", "n", "seed", "user",
	"safety_identifier", "tools", "tool_choice", "parallel_tool_calls",
	"response_format", "presence_penalty", "frequency_penalty", "logprobs",
	"top_logprobs", "logit_bias", "reasoning_effort",
	"input", "encoding_format", "dimensions",
}

// maxFieldLen is the length of the longest known field name.
const maxFieldLen = len("max_completion_tokens")

// lookupField returns the field named exactly key, or noField. A switch on
// a string compiles to a search by length and value: no hashing, no
// allocation.
func lookupField(key string) field {
	switch key {
	case "model":
		return fieldModel
	case "messages":
		return fieldMessages
	case "stream":
		return fieldStream
	case "stream_options":
		return fieldStreamOptions
	case "temperature":
		return fieldTemperature
	case "top_p":
		return fieldTopP
	case "max_tokens":
		return fieldMaxTokens
	case "max_completion_tokens":
		return fieldMaxCompletionTokens
	case "stop":
		return fieldStop
	case "n":
		return fieldN
	case "seed":
		return fieldSeed
	case "user":
		return fieldUser
	case "safety_identifier":
		return fieldSafetyIdentifier
	case "tools":
		return fieldTools
	case "tool_choice":
		return fieldToolChoice
	case "parallel_tool_calls":
		return fieldParallelToolCalls
	case "response_format":
		return fieldResponseFormat
	case "presence_penalty":
		return fieldPresencePenalty
	case "frequency_penalty":
		return fieldFrequencyPenalty
	case "logprobs":
		return fieldLogprobs
	case "top_logprobs":
		return fieldTopLogprobs
	case "logit_bias":
		return fieldLogitBias
	case "reasoning_effort":
		return fieldReasoningEffort
	case "input":
		return fieldInput
	case "encoding_format":
		return fieldEncodingFormat
	case "dimensions":
		return fieldDimensions
	}
	return noField
}

// caseVariant returns the known field that key matches when letter case is
// ignored the way encoding/json ignores it (strings.EqualFold, so the
// Kelvin sign matches "k"), or noField. Peek calls it only for keys that are
// not known exactly: encoding/json would decode "MESSAGES" or "Stream" into
// the field that Peek checked under its exact name, so a request could pass
// Peek's checks and then mean something else to a converter.
func caseVariant(key string) field {
	ascii := true
	for i := 0; i < len(key); i++ {
		if key[i] >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if !ascii { // rare: compare with every name, folding Unicode
		for f, name := range knownFields {
			if strings.EqualFold(key, name) {
				return field(f)
			}
		}
		return noField
	}
	if len(key) > maxFieldLen {
		return noField
	}
	var lower [maxFieldLen]byte
	for i := 0; i < len(key); i++ {
		c := key[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		lower[i] = c
	}
	return lookupField(string(lower[:len(key)])) // no allocation: the conversion only feeds the switch
}
