package registry

import (
	"aigateway/internal/adapter"
	"aigateway/internal/adapter/process"
	"aigateway/internal/config"
)

// newProcess builds the adapter for a local program. A program that is
// missing or not executable leaves the model unavailable with the reason,
// like a missing key, instead of failing the whole gateway.
func newProcess(m *config.Model, _ string, _ map[string]string, d *Deps) (adapter.Adapter, error) {
	p := m.Process
	env, secrets, why, ok := p.ResolveEnv(d.LookupEnv)
	if !ok {
		return nil, unavailableError(why)
	}
	o := process.Options{
		ID: m.ID, Command: p.Command, Model: m.Model, Workdir: p.Workdir, Env: env, Secrets: secrets,
		PromptFormat: p.PromptFormat, PromptTemplate: p.PromptTemplate,
		Temperature: m.Temperature, MaxTokens: m.MaxTokens, Timeout: m.Timeout,
		MaxConcurrency: p.MaxConcurrency, QueueSize: p.QueueSize, QueueTimeout: p.QueueTimeout, MaxOutputBytes: p.MaxOutputBytes,
		KillGrace: p.KillGrace,
	}
	if err := process.Validate(&o); err != nil {
		return nil, err
	}
	if why, ok := process.Check(&o); !ok {
		return nil, unavailableError(why)
	}
	return process.New(o)
}
