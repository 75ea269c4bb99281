package openai

import (
	"encoding/json"
	"testing"
)

var appendStringSeeds = []string{
	"", "plain", `quote " and \ backslash`, "new\nline\r\ttab", "\x00\x01\x1f\x7f",
	"<html>&amp;</html>", "héllo wörld 日本", "bad \xff utf8 \xc3", "\u2028\u2029", "emoji 🙂",
}

func checkAppendString(t *testing.T, s string) {
	t.Helper()
	got := AppendString(nil, s)
	if !json.Valid(got) {
		t.Fatalf("AppendString(%q) = %s: invalid JSON", s, got)
	}
	want, _ := json.Marshal(s)
	var a, b string
	if err := json.Unmarshal(got, &a); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(want, &b); err != nil {
		t.Fatal(err)
	}
	if a != b {
		t.Errorf("AppendString(%q) decodes to %q, encoding/json to %q", s, a, b)
	}
}

func TestAppendString(t *testing.T) {
	for _, s := range appendStringSeeds {
		checkAppendString(t, s)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range appendStringSeeds {
		f.Add(s)
	}
	f.Fuzz(checkAppendString)
}
