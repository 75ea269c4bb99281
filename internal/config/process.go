package config

import (
	"errors"
	"fmt"
	"math"
	"os"
	"strings"
	"time"
)

// Process is the configuration of a "process" model: a local program run
// once per request. The process package checks placeholders and prompt
// formats when the registry builds the adapter; this checks the shape.
type Process struct {
	Command        []string          // argv, never run through a shell
	Workdir        string            // "" = the gateway's working directory
	Env            map[string]string // extra environment; values literal or "ENV:NAME"
	PromptFormat   string            // "" = the process adapter's default
	PromptTemplate string            // a Go text/template; overrides PromptFormat
	MaxConcurrency int               // 0 = adapter default
	QueueSize      int               // 0 = adapter default; -1 = no queue
	QueueTimeout   time.Duration     // 0 = adapter default
	MaxOutputBytes int               // 0 = adapter default
	KillGrace      time.Duration     // SIGTERM to SIGKILL; 0 = adapter default
}

// setProcess reads the process fields: required for the process adapter,
// refused for the others so that a misplaced field is not silently ignored.
func setProcess(m *Model, w *wireModel) error {
	if m.Adapter != AdapterProcess {
		for _, f := range []struct {
			name string
			set  bool
		}{
			{"command", w.Command != nil}, {"workdir", w.Workdir != nil}, {"env", w.Env != nil},
			{"prompt_format", w.PromptFormat != nil}, {"prompt_template", w.PromptTemplate != nil},
			{"max_concurrency", w.MaxConcurrency != nil}, {"queue_size", w.QueueSize != nil},
			{"queue_timeout", w.QueueTimeout != nil}, {"max_output_bytes", w.MaxOutputBytes != nil},
			{"kill_grace", w.KillGrace != nil},
		} {
			if f.set {
				return fmt.Errorf("%s: only for the process adapter", f.name)
			}
		}
		return nil
	}
	switch {
	case w.BaseURL != nil:
		return errors.New("base_url: not used by the process adapter")
	case w.APIKey != nil:
		return errors.New(`api_key: not used by the process adapter (pass secrets in "env")`)
	case w.Command == nil || len(*w.Command) == 0:
		return errors.New(`command: required, the program and its arguments, e.g. ["llama-cli", "-p", "{prompt}"]`)
	case (*w.Command)[0] == "":
		return errors.New("command[0]: the program must not be empty")
	}
	p := &Process{Command: *w.Command}
	if w.Workdir != nil {
		if *w.Workdir == "" {
			return errors.New("workdir: must not be empty (omit it to use the gateway's directory)")
		}
		p.Workdir = *w.Workdir
	}
	if w.Env != nil {
		for k, v := range *w.Env {
			switch {
			case !isEnvName(k):
				return fmt.Errorf("env: %q is not a valid variable name", truncate(k))
			case strings.HasPrefix(v, envPrefix) && !isEnvName(v[len(envPrefix):]):
				return fmt.Errorf("env: %s: ENV: must be followed by a valid environment variable name", k)
			}
		}
		p.Env = *w.Env
	}
	if w.PromptFormat != nil {
		p.PromptFormat = *w.PromptFormat
	}
	if w.PromptTemplate != nil {
		if *w.PromptTemplate == "" {
			return errors.New("prompt_template: must not be empty")
		}
		p.PromptTemplate = *w.PromptTemplate
	}
	if n := w.MaxConcurrency; n != nil {
		if *n < 1 {
			return fmt.Errorf("max_concurrency: must be at least 1, got %d", *n)
		}
		p.MaxConcurrency = *n
	}
	if n := w.QueueSize; n != nil {
		switch {
		case *n < 0:
			return fmt.Errorf("queue_size: must be 0 or more, got %d", *n)
		case *n == 0:
			p.QueueSize = -1 // an explicit 0: no queue at all (the adapter reads 0 as its default)
		default:
			p.QueueSize = *n
		}
	}
	if t := w.QueueTimeout; t != nil {
		d := time.Duration(math.Round(*t * float64(time.Second)))
		if *t <= 0 || *t > maxTimeout || d <= 0 {
			return fmt.Errorf("queue_timeout: must be greater than 0 and at most %d seconds, got %s", maxTimeout, formatFloat(*t))
		}
		p.QueueTimeout = d
	}
	if t := w.KillGrace; t != nil {
		d := time.Duration(math.Round(*t * float64(time.Second)))
		if *t <= 0 || *t > 60 || d <= 0 {
			return fmt.Errorf("kill_grace: must be greater than 0 and at most 60 seconds, got %s", formatFloat(*t))
		}
		p.KillGrace = d
	}
	if n := w.MaxOutputBytes; n != nil {
		if *n < 1 {
			return fmt.Errorf("max_output_bytes: must be at least 1, got %d", *n)
		}
		p.MaxOutputBytes = *n
	}
	m.Process = p
	return nil
}

// ResolveEnv returns the process environment additions as "KEY=value" with
// "ENV:NAME" values read from the gateway's environment, and those values
// (secrets to keep out of error messages). An unset variable is reported
// by name, never by value.
func (p *Process) ResolveEnv(lookupEnv func(string) (string, bool)) (env, secrets []string, reason string, ok bool) {
	if lookupEnv == nil {
		lookupEnv = os.LookupEnv
	}
	for k, v := range p.Env {
		if name, fromEnv := strings.CutPrefix(v, envPrefix); fromEnv {
			val, set := lookupEnv(name)
			if !set || val == "" {
				return nil, nil, fmt.Sprintf("environment variable %s (env %s) is not set", name, k), false
			}
			v = val
			secrets = append(secrets, val)
		}
		env = append(env, k+"="+v)
	}
	return env, secrets, "", true
}
