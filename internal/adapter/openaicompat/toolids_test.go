package openaicompat

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"aigateway/internal/toolcallid"
)

// signedID is a tool call id as a Gemini model's answer carries it.
var signedID = toolcallid.Sign("call_r1_0_0", "Cs8BAY89a1+/ZrEfMkC4ZPVZx2Q/8yqTQw+Z6lvI0Aa0gXHn9q1aS2Qv3xL0/UmcsnPf+w==")

// conversation is a chat body with a tool call and its result; ID is
// replaced by the tool call id.
const conversation = `{"model":"m","messages":[{"role":"user","content":"Weather in Paris? (ids look like x__thought__y)"},
	{"role":"assistant","content":null,"tool_calls":[{"id":"ID","type":"function","function":{"name":"get_weather","arguments":"{\"city\":\"Paris\"}"}},
		{"type":"function","id":"call_plain","function":{"name":"noop","arguments":"{}"}}]},
	{"role":"tool","tool_call_id":"ID","content":"18C"},{"role":"tool","tool_call_id":"call_plain","content":"ok"}],
	"metadata":{"note":"__thought__ here is not an id"}}`

func TestStripSignatures(t *testing.T) {
	body := []byte(strings.ReplaceAll(conversation, "ID", signedID))
	orig := bytes.Clone(body)
	got := stripSignatures(body)
	if !bytes.Equal(body, orig) {
		t.Fatal("stripSignatures modified its input, which is replayed on retries")
	}
	want := strings.ReplaceAll(conversation, "ID", "call_r1_0_0")
	if !json.Valid(got) || string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
}

func TestStripSignaturesLeavesOtherBodiesAlone(t *testing.T) {
	for name, body := range map[string]string{
		"no separator":                              strings.ReplaceAll(conversation, "__thought__", "thought"),
		"separator only in content":                 strings.ReplaceAll(conversation, "ID", "call_plain_2"),
		"an id that is only the separator and more": strings.ReplaceAll(conversation, "ID", toolcallid.Separator+"abc"),
	} {
		b := []byte(body)
		got := stripSignatures(b)
		if &got[0] != &b[0] || len(got) != len(b) {
			t.Errorf("%s: the body was copied or changed:\n%s", name, got)
		}
	}
}

// Escaped keys and ids are read as the upstream's parser reads them.
func TestStripSignaturesEscapedKeys(t *testing.T) {
	body := `{"model":"m","messag\u0065s":[{"role":"assistant","tool_calls":[{"\u0069d":"` + signedID + `","function":{"name":"f","arguments":"{}"}}]},
		{"role":"tool","tool_call_id":"` + signedID + `\u00e9","content":"x"}]}`
	got := stripSignatures([]byte(body))
	var v struct {
		Messages []struct {
			ToolCalls []struct {
				ID string `json:"id"`
			} `json:"tool_calls"`
			ToolCallID string `json:"tool_call_id"`
		} `json:"messages"`
	}
	if err := json.Unmarshal(got, &v); err != nil {
		t.Fatalf("%v:\n%s", err, got)
	}
	if d := cmp.Diff([]string{"call_r1_0_0", "call_r1_0_0"}, []string{v.Messages[0].ToolCalls[0].ID, v.Messages[1].ToolCallID}); d != "" {
		t.Errorf("ids (-want +got):\n%s", d)
	}
}

// The passthrough's hot path: a body without a signed id costs one scan
// and no allocation.
func TestStripSignaturesDoesNotAllocate(t *testing.T) {
	body := []byte(strings.ReplaceAll(conversation, "__thought__", "thought"))
	if n := testing.AllocsPerRun(100, func() { _ = stripSignatures(body) }); n != 0 {
		t.Errorf("stripSignatures allocates %v times for a body without the separator", n)
	}
}

func BenchmarkStripSignatures(b *testing.B) {
	for name, body := range map[string][]byte{
		"plain":  []byte(strings.ReplaceAll(conversation, "__thought__", "thought")),
		"signed": []byte(strings.ReplaceAll(conversation, "ID", signedID)),
	} {
		b.Run(name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				_ = stripSignatures(body)
			}
		})
	}
}

// For Mistral every id becomes 9 letters and digits, the same for a call
// and its result; an id that fits (the upstream's own) stays as it is.
func TestShortenToolCallIDs(t *testing.T) {
	body := []byte(strings.ReplaceAll(conversation, "ID", signedID))
	body = bytes.Replace(body, []byte(`"call_plain"`), []byte(`"Ab3dE6gH9"`), -1)
	orig := bytes.Clone(body)
	got := shortenToolCallIDs(body)
	if !bytes.Equal(body, orig) {
		t.Fatal("shortenToolCallIDs modified its input, which is replayed on retries")
	}
	short := shortID("call_r1_0_0")
	if !alnum9(short) || short != shortID("call_r1_0_0") || short == shortID("call_r1_0_1") {
		t.Fatalf("shortID is not a deterministic 9-character id: %q", short)
	}
	want := strings.ReplaceAll(strings.ReplaceAll(conversation, "ID", short), "call_plain", "Ab3dE6gH9")
	if !json.Valid(got) || string(got) != want {
		t.Errorf("got\n%s\nwant\n%s", got, want)
	}
	if plain := []byte(`{"model":"m","messages":[{"role":"user","content":"hi"}]}`); &shortenToolCallIDs(plain)[0] != &plain[0] {
		t.Error("a body without tool calls was copied")
	}
}
