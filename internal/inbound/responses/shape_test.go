package responses

import (
	"os"
	"sort"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

// TestShapesMatchCodexStubs: every event the converter sends that also
// appears in the replies that satisfied Codex (stub-replies/responses-*.sse)
// has at least the keys Codex got there, in its data, its item and its
// response object.
func TestShapesMatchCodexStubs(t *testing.T) {
	stubs := map[string]gjson.Result{}
	for _, f := range []string{"testdata/responses-text-with-reasoning.sse", "testdata/responses-function_call-with-reasoning.sse"} {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, ev := range eventsOf(b) {
			name, data, _ := strings.Cut(ev, " ")
			key := name + "/" + gjson.Get(data, "item.type").Str
			stubs[key] = gjson.Parse(data)
		}
	}
	seen := map[string]bool{}
	for _, f := range []string{"text-length", "reasoning-function-calls", "chat-completions-text"} {
		q := mustParse(t, newTestDialect(nil), streamBody)
		out := runStream(t, q.NewStream(openaiTarget), readChunks(t, "testdata/streams/"+f+".sse"))
		for _, ev := range eventsOf(out) {
			name, data, _ := strings.Cut(ev, " ")
			got := gjson.Parse(data)
			key := name + "/" + got.Get("item.type").Str
			want, ok := stubs[key]
			if !ok {
				continue
			}
			seen[key] = true
			for _, path := range []string{"@this", "item", "part", "response"} {
				if missing := missingKeys(want.Get(path), got.Get(path)); len(missing) > 0 {
					t.Errorf("%s (%s): %s lacks %v", key, f, path, missing)
				}
			}
		}
	}
	var unseen []string
	for k := range stubs {
		if !seen[k] && !strings.HasPrefix(k, "response.incomplete") {
			unseen = append(unseen, k)
		}
	}
	sort.Strings(unseen)
	if len(unseen) > 0 {
		t.Errorf("events of the stubs the converter never sent: %v", unseen)
	}
}

func missingKeys(want, got gjson.Result) []string {
	var missing []string
	want.ForEach(func(k, _ gjson.Result) bool {
		if !got.Get(gjson.Escape(k.Str)).Exists() {
			missing = append(missing, k.Str)
		}
		return true
	})
	return missing
}
