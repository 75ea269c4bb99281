package anthropic

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

// goldenOptions are the options the request goldens are made with: the model
// name of the hand-written anthropic-request.json.
var goldenOptions = RequestOptions{Model: "claude-sonnet-4-5", DefaultMaxTokens: DefaultMaxTokens}

// TestConvertRequestGolden converts the shared example request. The golden
// file was reviewed by hand against testdata/anthropic-request.json (the
// same conversation written from the Anthropic spec) and is identical to it
// as JSON: parallel_tool_calls:true adds nothing, image detail "low" is
// dropped (Anthropic has no equivalent), and stream_options.include_usage is
// not sent (the gateway builds the usage chunk itself). The second comparison
// keeps it that way if someone regenerates the golden with -update.
func TestConvertRequestGolden(t *testing.T) {
	for _, tc := range []struct{ in, golden string }{
		{"openai-chat-request.json", "openai-chat-request.golden.json"},
		// Real opencode traffic: a system prompt, tools, and in the third a
		// tool call whose assistant content is "" (must become no text block).
		{"opencode-chat-1-title.json", "opencode-chat-1-title.golden.json"},
		{"opencode-chat-3-tool-result.json", "opencode-chat-3-tool-result.golden.json"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			req := decodeRequest(t, string(readTestdata(t, tc.in)))
			got, err := ConvertRequest(req, goldenOptions)
			if err != nil {
				t.Fatal(err)
			}
			if *update {
				var pretty bytes.Buffer
				if err := json.Indent(&pretty, got, "", "  "); err != nil {
					t.Fatal(err)
				}
				pretty.WriteByte('\n')
				if err := os.WriteFile(filepath.Join("testdata", tc.golden), pretty.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if d := diffJSON(t, readTestdata(t, tc.golden), got); d != "" {
				t.Errorf("ConvertRequest(%s) differs from %s (-want +got):\n%s", tc.in, tc.golden, d)
			}
		})
	}
	t.Run("matches anthropic-request.json", func(t *testing.T) {
		if d := diffJSON(t, readTestdata(t, "anthropic-request.json"), readTestdata(t, "openai-chat-request.golden.json")); d != "" {
			t.Errorf("golden differs from the hand-written Anthropic request (-want +got):\n%s", d)
		}
	})
}
