package registry

import (
	"aigateway/internal/adapter"
	"aigateway/internal/adapter/process"
	"aigateway/internal/config"
)

// newProcess builds the adapter for a local program.
func newProcess(m *config.Model, _ string, _ map[string]string, d *Deps) (adapter.Adapter, error) {
	o, err := processOptions(m, d)
	if err != nil {
		return nil, err
	}
	return process.New(o)
}

// processOptions resolves a process entry's environment and checks that its
// program can run. A program that is missing or not executable, or an unset
// ENV: variable, leaves the model unavailable with the reason, like a
// missing key, instead of failing the whole gateway. It runs on every
// (re)load, also when the adapter itself is reused.
func processOptions(m *config.Model, d *Deps) (process.Options, error) {
	p := m.Process
	env, secrets, why, ok := p.ResolveEnv(d.LookupEnv)
	if !ok {
		return process.Options{}, unavailableError(why)
	}
	o := process.Options{
		ID: m.ID, Command: p.Command, Model: m.Model, Workdir: p.Workdir, Env: env, Secrets: secrets,
		PromptFormat: p.PromptFormat, PromptTemplate: p.PromptTemplate,
		Temperature: m.Temperature, MaxTokens: m.MaxTokens, Timeout: m.Timeout,
		MaxConcurrency: p.MaxConcurrency, QueueSize: p.QueueSize, QueueTimeout: p.QueueTimeout, MaxOutputBytes: p.MaxOutputBytes,
		KillGrace: p.KillGrace,
		// A stream starts when the program wrote something, or has been
		// silent for as long as a started stream may be before it gets a
		// keep-alive: the client then gets headers and keep-alives while
		// the program loads.
		StartWithin: m.KeepAlive,
	}
	if err := process.Validate(&o); err != nil {
		return o, err
	}
	if why, ok := process.Check(&o); !ok {
		return o, unavailableError(why)
	}
	return o, nil
}
