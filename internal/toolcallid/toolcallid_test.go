package toolcallid

import (
	"crypto/sha256"
	"encoding/base64"
	"regexp"
	"strings"
	"testing"
)

// signature returns a realistic signature: n opaque bytes in standard
// base64, with '+', '/' and padding likely.
func signature(n int) string {
	b := make([]byte, 0, n+sha256.Size)
	for i := byte(0); len(b) < n; i++ {
		s := sha256.Sum256([]byte{i})
		b = append(b, s[:]...)
	}
	return base64.StdEncoding.EncodeToString(b[:n])
}

// anthropicID is the pattern Anthropic requires of tool_use ids.
var anthropicID = regexp.MustCompile(`^[a-zA-Z0-9_-]+$`)

func TestSignSplitRoundTrip(t *testing.T) {
	for _, n := range []int{1, 2, 3, 64, 517, 4096} {
		sig := signature(n)
		id := Sign("call_abc_0_0", sig)
		if id == "call_abc_0_0" {
			t.Fatalf("%d bytes: signature not added", n)
		}
		if !anthropicID.MatchString(id) {
			t.Errorf("%d bytes: signed id %q is not a valid Anthropic tool_use id", n, id)
		}
		if want := len("call_abc_0_0") + len(Separator) + len(strings.TrimRight(sig, "=")); len(id) != want {
			t.Errorf("%d bytes: id length %d, want %d (the signature's own length, unpadded)", n, len(id), want)
		}
		base, got := Split(id)
		if base != "call_abc_0_0" || got != sig {
			t.Errorf("%d bytes: Split = %q, %q; want the id and %q", n, base, got, sig)
		}
		if b := Base(id); b != "call_abc_0_0" {
			t.Errorf("%d bytes: Base = %q", n, b)
		}
	}
}

// An id LiteLLM signed carries the signature in standard base64.
func TestSplitReadsLiteLLMIDs(t *testing.T) {
	sig := signature(100) // 136 characters with '+' or '/'; padded
	if !strings.ContainsAny(sig, "+/=") {
		t.Fatalf("test signature %q lacks standard-only characters", sig)
	}
	base, got := Split("call_x" + Separator + sig)
	if base != "call_x" || got != sig {
		t.Errorf("Split = %q, %q; want call_x and %q", base, got, sig)
	}
	base, got = Split("call_x" + Separator + strings.TrimRight(sig, "="))
	if base != "call_x" || got != sig {
		t.Errorf("unpadded: Split = %q, %q", base, got)
	}
}

func TestSignLeavesIDAlone(t *testing.T) {
	cases := map[string]struct{ id, sig string }{
		"no signature":        {"call_1", ""},
		"no id":               {"", signature(10)},
		"already signed":      {Sign("call_1", signature(10)), signature(20)},
		"not base64":          {"call_1", "sig-1"},
		"non-canonical bits":  {"call_1", "QR=="}, // "QQ==" is canonical
		"line breaks":         {"call_1", "QUJD\nREVG"},
		"url-safe alphabet":   {"call_1", "-_-_"},
		"past the cap":        {"call_1", signature(MaxSignature)},
		"past the cap by one": {"call_1", base64.StdEncoding.EncodeToString(make([]byte, MaxSignature/4*3+1))},
	}
	for name, c := range cases {
		if got := Sign(c.id, c.sig); got != c.id {
			t.Errorf("%s: Sign(%q, ...) = %q, want the id unchanged", name, c.id, got)
		}
	}
	atCap := base64.StdEncoding.EncodeToString(make([]byte, MaxSignature/4*3))
	if len(atCap) != MaxSignature || Sign("c", atCap) == "c" {
		t.Errorf("a signature of exactly MaxSignature characters must be signed")
	}
}

func TestSplitUnsignedAndBroken(t *testing.T) {
	cases := []struct{ id, base, sig string }{
		{"call_1", "call_1", ""},
		{"toolu_01A09q90qw90lq917835lq9", "toolu_01A09q90qw90lq917835lq9", ""},
		{"functions.Read:1", "functions.Read:1", ""},
		{Separator + "QUJD", Separator + "QUJD", ""}, // nothing before the separator: not a signed id
		{"call_1" + Separator, "call_1", ""},
		{"call_1" + Separator + "!!!", "call_1", ""},
		{"call_1" + Separator + "QUJD\nREVG", "call_1", ""},
		{"call_1" + Separator + "A", "call_1", ""}, // one base64 character decodes to nothing
	}
	for _, c := range cases {
		base, sig := Split(c.id)
		if base != c.base || sig != c.sig {
			t.Errorf("Split(%q) = %q, %q; want %q, %q", c.id, base, sig, c.base, c.sig)
		}
		if b := Base(c.id); b != c.base {
			t.Errorf("Base(%q) = %q, want %q", c.id, b, c.base)
		}
	}
}

// Base runs for every tool call id of every converted request.
func TestBaseDoesNotAllocate(t *testing.T) {
	signed := Sign("call_1", signature(700))
	if n := testing.AllocsPerRun(100, func() { _ = Base(signed); _ = Base("call_1") }); n != 0 {
		t.Errorf("Base allocates %v times per call", n)
	}
}

// FuzzSignSplit checks that what Sign writes, Split reads back, and that a
// signed id keeps the alphabet of its base.
func FuzzSignSplit(f *testing.F) {
	f.Add("call_1", []byte("opaque"))
	f.Add("toolu_01", []byte{0xfb, 0xff, 0xfe})
	f.Add("functions.Read:1", []byte{})
	f.Fuzz(func(t *testing.T, id string, raw []byte) {
		sig := base64.StdEncoding.EncodeToString(raw)
		signed := Sign(id, sig)
		if signed == id {
			return
		}
		base, got := Split(signed)
		if base != id || got != sig {
			t.Fatalf("Sign(%q, %q) = %q, which splits into %q, %q", id, sig, signed, base, got)
		}
		if anthropicID.MatchString(id) && !anthropicID.MatchString(signed) {
			t.Fatalf("signed id %q left the Anthropic alphabet", signed)
		}
	})
}

// An id whose end and the separator together contain the separator earlier
// would split at the wrong place, so it is not signed.
func TestSignRefusesAmbiguousIDs(t *testing.T) {
	for _, id := range []string{"a__thought_", "a__though", "a_"} {
		signed := Sign(id, signature(30))
		if base, _ := Split(signed); base != id {
			t.Errorf("Sign(%q) = %q, which splits at %q", id, signed, base)
		}
	}
}
