package adapter

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestDecodeJSON(t *testing.T) {
	// encoding/json alone accepts this (its limit is 10000 levels).
	deep := `{"a":` + strings.Repeat("[", 5000) + strings.Repeat("]", 5000) + `}`
	if !json.Valid([]byte(deep)) {
		t.Fatal("test input is not valid for encoding/json")
	}
	cases := []struct {
		name, in        string
		wantErr, isDeep bool
	}{
		{"object", `{"a":[1,2]}`, false, false},
		{"deep for the gateway", deep, true, true},
		{"syntax", `{"a":`, true, false},
		{"wrong type", `[1]`, true, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var v struct{ A []int }
			err := DecodeJSON([]byte(tc.in), &v)
			if (err != nil) != tc.wantErr || TooDeep(err) != tc.isDeep {
				t.Errorf("DecodeJSON = %v (too deep: %v), want error %v, too deep %v", err, TooDeep(err), tc.wantErr, tc.isDeep)
			}
		})
	}
}

func TestErrorText(t *testing.T) {
	cases := []struct{ name, body, want string }{
		{"error string", `{"error":"model not loaded"}`, "model not loaded"},
		{"detail", `{"detail":"Not Found"}`, "Not Found"},
		{"text", "upstream exploded\n", `"upstream exploded"`},
		{"empty", " ", "(empty body)"},
		// Valid JSON, but too deep to hand to gjson's recursive readers:
		// shown as text.
		{"too deep", `{"error":"x","y":` + strings.Repeat("[", 200) + strings.Repeat("]", 200) + `}`, `"{\"error\":\"x\",\"y\":[[[[`},
	}
	for _, tc := range cases {
		if got := ErrorText([]byte(tc.body)); !strings.HasPrefix(got, tc.want) {
			t.Errorf("%s: ErrorText = %.80q, want prefix %q", tc.name, got, tc.want)
		}
	}
}
