package process

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"strings"
	"testing"
)

// A value that begins an argument and starts with "-" would be read by the
// program as an option: "--file=/etc/hostname" reads a file, "--log-file=x"
// writes one. Such requests are refused before the program starts, unless
// the command keeps the value an operand ("--" before it) or an option's
// value ("--prompt={prompt}").
func TestValueThatWouldBeAnOption(t *testing.T) {
	const attack = "--file=/etc/hostname"
	tests := []struct {
		name   string
		args   []string
		format string
		extra  string // more request fields
		prompt string
		want   string // the program's output; "" when refused
		param  string // the 400's param when refused
	}{
		{name: "whole argument", args: []string{"{prompt}"}, prompt: attack, param: "messages"},
		{name: "after an option", args: []string{"-p", "{prompt}"}, prompt: attack, param: "messages"},
		{name: "text after the placeholder", args: []string{"{prompt}!"}, prompt: attack, param: "messages"},
		{name: "a lone dash", args: []string{"{prompt}"}, prompt: "-", param: "messages"},
		{name: "after --", args: []string{"-v", "--", "{prompt}"}, prompt: attack,
			want: "-v|--|--file=/etc/hostname|stdin="},
		{name: "--opt= form", args: []string{"--prompt={prompt}"}, prompt: attack,
			want: "--prompt=--file=/etc/hostname|stdin="},
		{name: "text before the placeholder", args: []string{"x{prompt}"}, prompt: attack,
			want: "x--file=/etc/hostname|stdin="},
		{name: "ordinary prompt", args: []string{"{prompt}"}, prompt: "what is -1 - 2?",
			want: "what is -1 - 2?|stdin="},
		// getopt and its kin read an argument starting with a space as an
		// operand.
		{name: "leading space", args: []string{"{prompt}"}, prompt: " " + attack,
			want: " --file=/etc/hostname|stdin="},
		// The rendered formats begin with their own markup, never with "-":
		// the shipped llama-cli command ("-p", "{prompt}") keeps working.
		{name: "llama3 format", args: []string{"-p", "{prompt}"}, format: "llama3", prompt: attack,
			want: "-p|<|begin_of_text|><|start_header_id|>user<|end_header_id|>\n\n--file=/etc/hostname<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n|stdin="},
		{name: "negative temperature", args: []string{"--temp", "{temperature}"}, extra: `"temperature":-1`,
			prompt: "x", param: "temperature"},
		{name: "negative zero temperature", args: []string{"--temp", "{temperature}"}, extra: `"temperature":-0.0`,
			prompt: "x", want: "--temp|0|stdin=x"},
		{name: "temperature after --", args: []string{"--", "{temperature}"}, extra: `"temperature":-1`,
			prompt: "x", want: "--|-1|stdin=x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ran := tempPath(t, "ran")
			o := helperOptions(t, "args", "RANFILE="+ran)
			o.Command = append(o.Command, tt.args...)
			o.PromptFormat = tt.format
			a := newAdapter(t, o)
			b := body(false, tt.extra, "user", tt.prompt)
			if tt.want != "" {
				if got := text(completion(t, a, b)); got != tt.want {
					t.Errorf("the program got %q, want %q", got, tt.want)
				}
				return
			}
			resp, err := send(context.Background(), a, b)
			if err == nil {
				t.Fatalf("the program ran and answered %s; want a 400", resp.Body)
			}
			ae := wantError(t, err, http.StatusBadRequest, "invalid_value")
			if ae.Err.Param != tt.param || !strings.Contains(ae.Err.Message, "command-line option") ||
				!strings.Contains(ae.Err.Message, `"--"`) || strings.Contains(ae.Err.Message, "/etc/hostname") {
				t.Errorf("param %q, message %q; want param %q and a message that explains the fix without echoing the value",
					tt.param, ae.Err.Message, tt.param)
			}
			if _, err := os.Stat(ran); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("the program ran (%v)", err)
			}
		})
	}
}
