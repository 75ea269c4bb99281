package process

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestValidate(t *testing.T) {
	neg, zero := -1.0, 0
	tests := []struct {
		name   string
		change func(o *Options)
		want   string // the exact error; "" for valid
	}{
		{name: "README example", change: func(o *Options) {}},
		{name: "stdin, no placeholders", change: func(o *Options) { o.Command = []string{"llama-cli", "-m", "m.gguf"} }},
		{name: "text around placeholders", change: func(o *Options) { o.Command = []string{"x", "--p={prompt}!", "{model}/{max_tokens}"} }},
		{name: "other braces are text", change: func(o *Options) { o.Command = []string{"x", `{"a":1}`, "[a-z]{1,3}", "{3}", "{ prompt }"} }},
		{name: "negative queue means none", change: func(o *Options) { o.QueueSize = -1 }},
		{name: "every format", change: func(o *Options) { o.PromptFormat = "gemma" }},
		{name: "model as an option's value", change: func(o *Options) { o.Model, o.Command = "-x", []string{"x", "--model={model}"} }},
		{name: "model after --", change: func(o *Options) { o.Model, o.Command = "-x", []string{"x", "--", "{model}"} }},
		{name: "model that reads as an option", change: func(o *Options) { o.Model, o.Command = "-x", []string{"x", "-m", "{model}"} },
			want: `command[2]: {model} is "-x", which the program would read as an option; put "--" before it or write it as --opt={model}`},
		{name: "id that reads as an option", change: func(o *Options) { o.ID, o.Command = "-x", []string{"x", "{model}"} },
			want: `command[1]: {model} is "-x", which the program would read as an option; put "--" before it or write it as --opt={model}`},
		{name: "no command", change: func(o *Options) { o.Command = nil },
			want: "command: required (the program and its arguments)"},
		{name: "empty program", change: func(o *Options) { o.Command = []string{" ", "-p"} },
			want: "command[0]: the program must not be empty"},
		{name: "typo", change: func(o *Options) { o.Command[4] = "{promt}" },
			want: "command[4]: unknown placeholder {promt}; known: {prompt}, {model}, {max_tokens}, {temperature}, {top_p}, {seed}, {presence_penalty}, {frequency_penalty}"},
		{name: "typo inside text", change: func(o *Options) { o.Command[4] = "--x={maxtokens}" },
			want: "command[4]: unknown placeholder {maxtokens}; known: {prompt}, {model}, {max_tokens}, {temperature}, {top_p}, {seed}, {presence_penalty}, {frequency_penalty}"},
		{name: "template braces", change: func(o *Options) { o.Command[4] = "{{prompt}}" },
			want: "command[4]: write {prompt}, not {{prompt}}"},
		{name: "placeholder in program", change: func(o *Options) { o.Command[0] = "/models/{model}/run" },
			want: `command[0]: the program cannot contain placeholders, got "/models/{model}/run"`},
		{name: "NUL", change: func(o *Options) { o.Command[1] = "a\x00b" },
			want: "command[1]: contains a NUL byte"},
		{name: "unknown format", change: func(o *Options) { o.PromptFormat = "alpaca" },
			want: `prompt_format: unknown format "alpaca" (known: plain, chatml, llama3, gemma)`},
		{name: "template syntax", change: func(o *Options) { o.PromptTemplate = "{{range .Messages}}" },
			want: "prompt_template: template: prompt_template:1: unexpected EOF"},
		{name: "template field", change: func(o *Options) { o.PromptTemplate = "{{.Mesages}}" },
			want: `prompt_template: template: prompt_template:1:2: executing "prompt_template" at <.Mesages>: can't evaluate field Mesages in type *process.PromptData`},
		{name: "env without =", change: func(o *Options) { o.Env = []string{"A=1", "HF_TOKEN"} },
			want: "env[1]: must have the form KEY=value"},
		{name: "env without key", change: func(o *Options) { o.Env = []string{"=secret"} },
			want: "env[0]: must have the form KEY=value"},
		{name: "negative temperature", change: func(o *Options) { o.Temperature = &neg },
			want: "temperature: must be a number of at least 0, got -1"},
		{name: "zero max tokens", change: func(o *Options) { o.MaxTokens = &zero },
			want: "max_tokens: must be at least 1, got 0"},
		{name: "negative timeout", change: func(o *Options) { o.Timeout = -time.Second }, want: "timeout: must not be negative"},
		{name: "negative concurrency", change: func(o *Options) { o.MaxConcurrency = -1 }, want: "max_concurrency: must not be negative"},
		{name: "negative queue timeout", change: func(o *Options) { o.QueueTimeout = -1 }, want: "queue_timeout: must not be negative"},
		{name: "negative output", change: func(o *Options) { o.MaxOutputBytes = -1 }, want: "max_output_bytes: must not be negative"},
		{name: "negative grace", change: func(o *Options) { o.KillGrace = -1 }, want: "kill_grace: must not be negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := exampleOptions()
			tt.change(&o)
			got := ""
			if err := Validate(&o); err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("Validate:\n got %q\nwant %q", got, tt.want)
			}
			if _, err := New(o); (err == nil) != (tt.want == "") {
				t.Errorf("New: %v", err)
			}
		})
	}
}

// exampleOptions are the README example's options.
func exampleOptions() Options {
	return Options{ID: "local-llama",
		Command: []string{"llama-cli", "-m", "/models/model.gguf", "-p", "{prompt}", "-n", "{max_tokens}", "--temp", "{temperature}"},
		Timeout: 120 * time.Second, MaxConcurrency: 1, QueueSize: 16, QueueTimeout: 30 * time.Second,
		Workdir: "/srv/llm", Env: []string{"OMP_NUM_THREADS=4", "HF_TOKEN=secret"}, Secrets: []string{"secret"},
		PromptFormat: "chatml"}
}

func TestNewAppliesDefaults(t *testing.T) {
	a, err := New(Options{ID: "m", Command: []string{"prog"}})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	want := Options{ID: "m", Command: []string{"prog"}, Model: "m", Timeout: 60 * time.Second, MaxConcurrency: 1,
		QueueSize: 16, QueueTimeout: 30 * time.Second, MaxOutputBytes: 1 << 20, KillGrace: 2 * time.Second}
	if diff := cmp.Diff(want, a.o); diff != "" {
		t.Errorf("defaults (-want +got):\n%s", diff)
	}
	if s := a.Slots(); s.limit != 1 || s.queueSize != 16 {
		t.Errorf("slots %d/%d", s.limit, s.queueSize)
	}
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte("#!/bin/sh\n"), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	exe := write("bin/llama", 0o755)
	plain := write("bin/plain", 0o644)
	file := write("file", 0o644)
	tests := []struct {
		name    string
		command string
		workdir string
		want    string // "" for ok
	}{
		{name: "absolute", command: exe},
		{name: "in PATH", command: "sh"},
		{name: "relative to workdir", command: "./bin/llama", workdir: dir},
		{name: "relative without dot", command: "bin/llama", workdir: dir},
		{name: "not in PATH", command: "no-such-llama-cli", want: `program "no-such-llama-cli" not found in PATH`},
		{name: "missing path", command: filepath.Join(dir, "nope"), want: `program "` + filepath.Join(dir, "nope") + `" does not exist`},
		{name: "missing relative", command: "./nope", workdir: dir,
			want: `program "./nope" (` + filepath.Join(dir, "nope") + `) does not exist`},
		{name: "not executable", command: plain, want: `program "` + plain + `" is not executable`},
		{name: "directory", command: dir, want: `program "` + dir + `" is a directory`},
		{name: "missing workdir", command: exe, workdir: filepath.Join(dir, "nowhere"),
			want: `workdir "` + filepath.Join(dir, "nowhere") + `" does not exist`},
		{name: "workdir is a file", command: exe, workdir: file, want: `workdir "` + file + `" is not a directory`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reason, ok := Check(&Options{Command: []string{tt.command, "-p", "{prompt}"}, Workdir: tt.workdir})
			if reason != tt.want || ok != (tt.want == "") {
				t.Errorf("Check = %q, %v; want %q", reason, ok, tt.want)
			}
		})
	}
}
