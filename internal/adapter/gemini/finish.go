package gemini

// finishReason maps a Gemini finishReason to an OpenAI finish_reason
// (PROTOCOLS.md 6.3). sawTool reports whether the candidate made a function
// call, in this event or any earlier one: Gemini has no "function call"
// reason and ends such replies with STOP. Unknown values become "stop"
// rather than passing through, since OpenAI clients switch on the value.
func finishReason(reason string, sawTool bool) string {
	switch reason {
	case "MAX_TOKENS":
		return "length"
	case "SAFETY", "RECITATION", "BLOCKLIST", "PROHIBITED_CONTENT", "SPII", "LANGUAGE", "OTHER",
		"IMAGE_SAFETY", "IMAGE_PROHIBITED_CONTENT", "IMAGE_RECITATION", "IMAGE_OTHER", "NO_IMAGE":
		return "content_filter"
	}
	// STOP, the tool problems (MALFORMED_FUNCTION_CALL, UNEXPECTED_TOOL_CALL,
	// TOO_MANY_TOOL_CALLS), FINISH_REASON_UNSPECIFIED and anything new.
	if reason == "STOP" && sawTool {
		return "tool_calls"
	}
	return "stop"
}
