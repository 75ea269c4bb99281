package gemini

// skipSignatureValidator is the thoughtSignature Google documents for a
// function call that has no signature of its own: history written by
// another model, or made up by the application. Google's thought signatures
// page (https://ai.google.dev/gemini-api/docs/thought-signatures, FAQ) names
// two such values, "context_engineering_is_the_way_to_go" and
// "skip_thought_signature_validator", which make Gemini skip the check. As a
// JSON bytes field it is also valid URL-safe base64, so Gemini parses it.
const skipSignatureValidator = "skip_thought_signature_validator"

// signUnsignedCalls gives skipSignatureValidator to each function call that
// Gemini 3 would reject for lacking a signature, so that a conversation
// that began on another model, or whose signature the client lost, goes on
// instead of failing with 400 "Function call is missing a
// thought_signature". Google's page says what is checked: only the current
// turn, which begins after the last user content with ordinary content
// (text or media, not only function responses), and in it the first
// functionCall part of each model content (a step; the parallel calls after
// it carry no signature). Earlier turns and the other calls are left as
// they are, and a signature the call already has is kept.
//
// This is done for every Gemini model, not only those named gemini-3:
// aliases such as gemini-flash-latest point to Gemini 3 models, Google
// documents the value for the Gemini API as a whole, and Gemini 2.5 does
// not reject it (Google's Vertex AI page: a signature a model cannot use,
// such as another model's, is left out of its context and the request
// still succeeds).
func signUnsignedCalls(contents []content) {
	for i := currentTurnStart(contents); i < len(contents); i++ {
		c := &contents[i]
		if c.Role != "model" {
			continue
		}
		for j := range c.Parts {
			p := &c.Parts[j]
			if p.FunctionCall == nil {
				continue
			}
			if p.ThoughtSignature == "" {
				p.ThoughtSignature = skipSignatureValidator
			}
			break
		}
	}
}

// currentTurnStart returns the index of the first content of the current
// turn: the one after the last user content that has a part other than a
// function response, or 0 when there is none.
func currentTurnStart(contents []content) int {
	for i := len(contents) - 1; i >= 0; i-- {
		if contents[i].Role != "user" {
			continue
		}
		for _, p := range contents[i].Parts {
			if p.FunctionResponse == nil {
				return i + 1
			}
		}
	}
	return 0
}
