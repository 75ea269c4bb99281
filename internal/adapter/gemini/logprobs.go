package gemini

import "encoding/json"

// OpenAI choice.logprobs: {"content": [tokenLogprob...], "refusal": null}.
type choiceLogprobs struct {
	Content []tokenLogprob  `json:"content"`
	Refusal json.RawMessage `json:"refusal"`
}

type tokenLogprob struct {
	Token       string       `json:"token"`
	Logprob     float64      `json:"logprob"`
	Bytes       []int        `json:"bytes"`
	TopLogprobs []topLogprob `json:"top_logprobs"`
}

type topLogprob struct {
	Token   string  `json:"token"`
	Logprob float64 `json:"logprob"`
	Bytes   []int   `json:"bytes"`
}

// openaiLogprobs converts a candidate's logprobsResult (chosen token i with
// its alternatives in topCandidates[i]) to OpenAI's shape, or returns nil
// (JSON null) when there is none.
func openaiLogprobs(lr *logprobsResult) json.RawMessage {
	if lr == nil || len(lr.ChosenCandidates) == 0 {
		return nil
	}
	out := choiceLogprobs{Content: make([]tokenLogprob, len(lr.ChosenCandidates)), Refusal: json.RawMessage("null")}
	for i, c := range lr.ChosenCandidates {
		t := tokenLogprob{Token: c.Token, Logprob: c.LogProbability, Bytes: tokenBytes(c.Token), TopLogprobs: []topLogprob{}}
		if i < len(lr.TopCandidates) {
			for _, alt := range lr.TopCandidates[i].Candidates {
				t.TopLogprobs = append(t.TopLogprobs, topLogprob{Token: alt.Token, Logprob: alt.LogProbability, Bytes: tokenBytes(alt.Token)})
			}
		}
		out.Content[i] = t
	}
	b, err := json.Marshal(out)
	if err != nil { // strings and finite floats always encode
		return nil
	}
	return b
}

// tokenBytes is the UTF-8 encoding of a token as OpenAI's list of ints.
func tokenBytes(s string) []int {
	b := make([]int, len(s))
	for i := range len(s) {
		b[i] = int(s[i])
	}
	return b
}
