package gemini

import (
	"bytes"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/tidwall/gjson"
)

const thoughtStream = `data: {"candidates":[{"content":{"role":"model","parts":[{"text":"Paris is ","thought":true}]}}],"responseId":"r1","modelVersion":"gemini-2.5-flash"}

data: {"candidates":[{"content":{"role":"model","parts":[{"text":"in France.","thought":true}]}}]}

data: {"candidates":[{"content":{"role":"model","parts":[{"text":"It is in France."}]},"finishReason":"STOP"}],"usageMetadata":{"promptTokenCount":3,"candidatesTokenCount":4,"thoughtsTokenCount":5,"totalTokenCount":12}}

`

// Thought parts become delta.reasoning_content when the request asked for
// reasoning, fed whole and one byte at a time, and are dropped otherwise.
func TestTranslatorThoughts(t *testing.T) {
	for _, reasoning := range []bool{true, false} {
		for _, oneByte := range []bool{false, true} {
			src := bytes.NewReader([]byte(thoughtStream))
			tr := NewTranslatorOptions(TranslatorOptions{Model: "m", Created: 1, Reasoning: reasoning})
			var got [][]byte
			var err error
			if oneByte {
				got, err = translate(t, iotest.OneByteReader(src), tr)
			} else {
				got, err = translate(t, src, tr)
			}
			if err != nil {
				t.Fatal(err)
			}
			var thought, text strings.Builder
			for _, c := range got {
				thought.WriteString(gjson.GetBytes(c, "choices.0.delta.reasoning_content").Str)
				text.WriteString(gjson.GetBytes(c, "choices.0.delta.content").Str)
			}
			want := ""
			if reasoning {
				want = "Paris is in France."
			}
			if thought.String() != want || text.String() != "It is in France." {
				t.Errorf("reasoning %v: thought %q, text %q", reasoning, thought.String(), text.String())
			}
		}
	}
}

func TestConvertResponseThoughts(t *testing.T) {
	body := []byte(`{"candidates":[{"content":{"role":"model","parts":[{"text":"Hmm.","thought":true},{"text":"Answer."}]},"finishReason":"STOP"}]}`)
	got, _, err := ConvertResponseWithReasoning(body, "m", 1)
	if err != nil {
		t.Fatal(err)
	}
	if m := gjson.GetBytes(got, "choices.0.message"); m.Get("reasoning_content").Str != "Hmm." || m.Get("content").Str != "Answer." {
		t.Errorf("message %s", m.Raw)
	}
	got, _, err = ConvertResponse(body, "m", 1)
	if err != nil {
		t.Fatal(err)
	}
	if m := gjson.GetBytes(got, "choices.0.message"); m.Get("reasoning_content").Exists() {
		t.Errorf("thought leaked: %s", m.Raw)
	}
}
