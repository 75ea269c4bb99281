package responses

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tidwall/gjson"
)

const streamBody = `{"model":"client-model","stream":true,"store":false,"input":"hi","tools":[
	{"type":"function","name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string"}}}},
	{"type":"function","name":"get_marker","parameters":{"type":"object","properties":{"what":{"type":"string"}}}},
	{"type":"custom","name":"apply_patch","description":"Edit files.","format":{"type":"grammar","syntax":"lark","definition":"start: x"}}]}`

// TestStreamGolden converts real and hand-made Chat streams and pins the
// events; each is also fed as whole chunks after a first pass of tiny
// fragments of tool arguments (custom-tool-call.sse has 65 of 1 to 3
// bytes, splitting escapes and surrogate pairs).
func TestStreamGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/streams/*.sse")
	if len(files) < 5 {
		t.Fatalf("missing stream inputs: %v", files)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".sse")
		t.Run(name, func(t *testing.T) {
			q := mustParse(t, newTestDialect(nil), streamBody)
			out := runStream(t, q.NewStream(openaiTarget), readChunks(t, f))
			last := checkStream(t, out)
			if !last.Get("response.usage").IsObject() {
				t.Errorf("the terminal event has no usage: %s", last.Raw)
			}
			golden(t, "streams/"+name+".sse", out)
		})
	}
}

// TestStreamCustomInput: the input deltas of a custom tool call are the
// decoded text and add up to the input, whatever the fragmenting.
func TestStreamCustomInput(t *testing.T) {
	chunks := readChunks(t, "testdata/streams/custom-tool-call.sse")
	q := mustParse(t, newTestDialect(nil), streamBody)
	out := runStream(t, q.NewStream(openaiTarget), chunks)
	last := checkStream(t, out)
	const want = "*** Begin Patch\n*** Add File: hello.txt\n+\"quoted\" \\ tab\t and é 😀 \u2028 done\n*** End Patch\n"
	var deltas strings.Builder
	var done string
	n := 0
	for _, ev := range eventsOf(out) {
		name, data, _ := strings.Cut(ev, " ")
		switch name {
		case "response.custom_tool_call_input.delta":
			n++
			deltas.WriteString(gjson.Get(data, "delta").Str)
		case "response.custom_tool_call_input.done":
			done = gjson.Get(data, "input").Str
		case "response.function_call_arguments.delta", "response.function_call_arguments.done":
			t.Errorf("a custom tool call streamed as a function call: %s", ev)
		}
	}
	if deltas.String() != want || done != want {
		t.Errorf("deltas %q, done %q, want %q", deltas.String(), done, want)
	}
	if n < 20 {
		t.Errorf("only %d input deltas: the input is not streamed as it comes", n)
	}
	item := last.Get("response.output.1")
	if item.Get("type").Str != "custom_tool_call" || item.Get("input").Str != want || item.Get("call_id").Str != "call_p1" {
		t.Errorf("final item %s", item.Raw)
	}
}

// TestStreamReasoning: reasoning_content becomes a reasoning item with a
// summary and the gateway's encrypted_content, which replays to the same
// deployment.
func TestStreamReasoning(t *testing.T) {
	q := mustParse(t, newTestDialect(nil), streamBody)
	out := runStream(t, q.NewStream(openaiTarget), readChunks(t, "testdata/streams/reasoning-function-calls.sse"))
	last := checkStream(t, out)
	rs := last.Get("response.output.0")
	if rs.Get("type").Str != "reasoning" || rs.Get("summary.0.text").Str != "The user wants the weather; I should call get_weather." {
		t.Fatalf("reasoning item %s", rs.Raw)
	}
	if got, _ := replayReasoning(openaiTarget, rs.Get("encrypted_content").Str); got != rs.Get("summary.0.text").Str {
		t.Errorf("the minted reasoning replays as %q", got)
	}
	u := last.Get("response.usage")
	if u.Get("input_tokens").Int() != 120 || u.Get("input_tokens_details.cached_tokens").Int() != 64 ||
		u.Get("output_tokens_details.reasoning_tokens").Int() != 25 || u.Get("total_tokens").Int() != 160 {
		t.Errorf("usage %s", u.Raw)
	}
	if f := last.Get("response.output.2"); f.Get("arguments").Str != `{"city":"London"}` || f.Get("call_id").Str != "call_w2" {
		t.Errorf("second call %s", f.Raw)
	}
}

func TestStreamIncomplete(t *testing.T) {
	q := mustParse(t, newTestDialect(nil), streamBody)
	out := runStream(t, q.NewStream(openaiTarget), readChunks(t, "testdata/streams/text-length.sse"))
	last := checkStream(t, out)
	if last.Get("type").Str != "response.incomplete" || last.Get("response.incomplete_details.reason").Str != "max_output_tokens" {
		t.Errorf("terminal event %s", last.Raw)
	}
}

func TestStreamEmptyAndFail(t *testing.T) {
	q := mustParse(t, newTestDialect(nil), streamBody)
	out := runStream(t, q.NewStream(openaiTarget), nil)
	if last := checkStream(t, out); last.Get("response.output.0.type").Str != "message" {
		t.Errorf("an empty stream should still give a message: %s", last.Raw)
	}

	s := q.NewStream(openaiTarget).(*stream)
	var buf []byte
	evs, _ := s.Chunk([]byte(`{"choices":[{"index":0,"delta":{"content":"Hel"}}]}`))
	for _, ev := range evs {
		buf = append(buf, "event: "+string(ev.Event)+"\ndata: "+string(ev.Data)+"\n\n"...)
	}
	for _, ev := range s.Fail(&inboundErr503) {
		buf = append(buf, "event: "+string(ev.Event)+"\ndata: "+string(ev.Data)+"\n\n"...)
	}
	// checkStream would flag the open message: a failed stream leaves it
	// unfinished, as OpenAI does; check the terminal event only.
	i := bytes.LastIndex(buf, []byte("event: response.failed"))
	if i < 0 {
		t.Fatalf("no response.failed in %s", buf)
	}
	data := gjson.Get(eventsOf(buf[i:])[0][len("response.failed "):], "@this")
	if data.Get("sequence_number").Int() != int64(len(eventsOf(buf))-1) || data.Get("response.status").Str != "failed" ||
		data.Get("response.error.code").Str != "server_is_overloaded" || data.Get("response.id").Str != q.id {
		t.Errorf("response.failed %s", data.Raw)
	}
}
