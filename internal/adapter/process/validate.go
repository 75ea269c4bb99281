package process

import (
	"cmp"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"strings"
)

// Validate checks o without touching the file system: a command with a
// program, known placeholders, a known prompt format, a prompt template that
// parses and runs on a sample conversation, and no negative limits. Each
// message names the field, e.g. "command[3]: unknown placeholder {promt}; ...".
func Validate(o *Options) error {
	args, err := validateCommand(o.Command)
	if err != nil {
		return err
	}
	if model := cmp.Or(o.Model, o.ID); strings.HasPrefix(model, "-") {
		for i, ar := range args {
			if ar.leading == phModel {
				return fmt.Errorf("command[%d]: {model} is %q, which the program would read as an option; put \"--\" before it or write it as --opt={model}", i+1, model)
			}
		}
	}
	if _, ok := formats[o.PromptFormat]; !ok {
		return fmt.Errorf("prompt_format: unknown format %q (known: plain, chatml, llama3, gemma)", o.PromptFormat)
	}
	if o.PromptTemplate != "" {
		if _, err := parseTemplate(o.PromptTemplate); err != nil {
			return fmt.Errorf("prompt_template: %w", err)
		}
	}
	for i, kv := range o.Env {
		if k, _, ok := strings.Cut(kv, "="); !ok || k == "" {
			// The value may be a secret: name the position only.
			return fmt.Errorf("env[%d]: must have the form KEY=value", i)
		}
	}
	if t := o.Temperature; t != nil && (math.IsNaN(*t) || math.IsInf(*t, 0) || *t < 0) {
		return fmt.Errorf("temperature: must be a number of at least 0, got %v", *t)
	}
	if o.MaxTokens != nil && *o.MaxTokens < 1 {
		return fmt.Errorf("max_tokens: must be at least 1, got %d", *o.MaxTokens)
	}
	for _, f := range []struct {
		name string
		neg  bool
	}{
		{"timeout", o.Timeout < 0},
		{"max_concurrency", o.MaxConcurrency < 0},
		{"queue_timeout", o.QueueTimeout < 0},
		{"max_output_bytes", o.MaxOutputBytes < 0},
		{"kill_grace", o.KillGrace < 0},
	} {
		if f.neg {
			return fmt.Errorf("%s: must not be negative", f.name)
		}
	}
	return nil
}

// validateCommand checks cmd and returns its arguments after the program,
// parsed.
func validateCommand(cmd []string) ([]cmdArg, error) {
	if len(cmd) == 0 {
		return nil, errors.New("command: required (the program and its arguments)")
	}
	if strings.TrimSpace(cmd[0]) == "" {
		return nil, errors.New("command[0]: the program must not be empty")
	}
	for i, s := range cmd {
		if strings.IndexByte(s, 0) >= 0 {
			return nil, fmt.Errorf("command[%d]: contains a NUL byte", i)
		}
	}
	prog, err := parseArg(cmd[0])
	if err != nil {
		return nil, fmt.Errorf("command[0]: %w", err)
	}
	if prog.hasPlaceholders() {
		// Check must be able to find the program before any request.
		return nil, fmt.Errorf("command[0]: the program cannot contain placeholders, got %q", cmd[0])
	}
	return parseArgs(cmd[1:], 1)
}

// Check reports whether the program can be run: a bare name must be found
// in the gateway's PATH (exec.LookPath), a path (relative ones against
// Workdir) must be an executable file, and Workdir must be a directory.
// reason is ready for /health, e.g. `program "llama-cli" not found in PATH`.
func Check(o *Options) (reason string, ok bool) {
	if o.Workdir != "" {
		fi, err := os.Stat(o.Workdir)
		switch {
		case errors.Is(err, fs.ErrNotExist):
			return fmt.Sprintf("workdir %q does not exist", o.Workdir), false
		case err != nil:
			return fmt.Sprintf("workdir %q: %v", o.Workdir, unwrapPath(err)), false
		case !fi.IsDir():
			return fmt.Sprintf("workdir %q is not a directory", o.Workdir), false
		}
	}
	if len(o.Command) == 0 || o.Command[0] == "" {
		return "no command configured", false
	}
	prog := o.Command[0]
	if !strings.Contains(prog, "/") {
		_, err := exec.LookPath(prog)
		switch {
		case errors.Is(err, exec.ErrDot):
			return fmt.Sprintf("program %q is found only through a relative PATH entry; use an absolute path", prog), false
		case err != nil:
			return fmt.Sprintf("program %q not found in PATH", prog), false
		}
		return "", true
	}
	path := resolveProgram(o.Workdir, prog)
	name := fmt.Sprintf("program %q", prog)
	if path != prog {
		name = fmt.Sprintf("program %q (%s)", prog, path)
	}
	fi, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return name + " does not exist", false
	case err != nil:
		return fmt.Sprintf("%s: %v", name, unwrapPath(err)), false
	case fi.IsDir():
		return name + " is a directory", false
	}
	if _, err := exec.LookPath(path); err != nil {
		return name + " is not executable", false
	}
	return "", true
}

// unwrapPath drops the path that a *fs.PathError repeats.
func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
