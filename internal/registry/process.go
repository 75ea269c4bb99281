package registry

import (
	"aigateway/internal/adapter"
	"aigateway/internal/adapter/process"
	"aigateway/internal/config"
)

// newProcess builds the adapter for a local program. On a reload it shares
// the slots of the deployment it replaces (see slotHandover), so that the
// programs of the old and the new adapter together stay within
// max_concurrency.
func newProcess(m *config.Model, _ string, _ map[string]string, d *Deps) (adapter.Adapter, error) {
	o, err := processOptions(m, d)
	if err != nil {
		return nil, err
	}
	o.Slots = d.slots.take(m)
	a, err := process.New(o)
	if err != nil {
		return nil, err
	}
	if o.Slots != nil {
		d.slots.apply = append(d.slots.apply, a)
	}
	return a, nil
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
		return process.Options{}, unavailableError{why: why, missing: missingProcessEnv}
	}
	o := process.Options{
		ID: m.ID, Command: p.Command, Model: m.Model, Workdir: p.Workdir, Env: env, Secrets: secrets,
		PromptFormat: p.PromptFormat, PromptTemplate: p.PromptTemplate,
		Temperature: m.Temperature, MaxTokens: m.MaxTokens, Timeout: m.Timeout,
		MaxConcurrency: p.MaxConcurrency, QueueSize: p.QueueSize, QueueTimeout: p.QueueTimeout, MaxOutputBytes: p.MaxOutputBytes,
		KillGrace: p.KillGrace, DropParams: m.DropParams, Logger: d.Logger,
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
		return o, unavailableError{why: why, missing: missingProgram}
	}
	return o, nil
}

// procSlots records a process deployment's slots, so that the next reload
// can hand them on.
type procSlots struct {
	id, poolKey string
	slots       *process.Slots
}

// slotHandover gives the new adapters of a reload the slots of the
// previous registry's process deployments they replace, for one Build.
//
// Slots belong to a model id. A new entry takes the slots of the previous
// entry with the same content (only its environment values changed), else
// those of the first previous entry with its id that no entry of the new
// config keeps, in config order; otherwise it gets slots of its own. With
// one process entry per id, the usual case, every version of the entry
// shares one set of slots. An entry whose id changed is another model.
type slotHandover struct {
	prev  []procSlots
	kept  map[string]bool // pool keys of the new config's enabled process entries
	taken map[*process.Slots]bool
	// apply are the new adapters built on shared slots, whose limits Build
	// applies once every entry was built: a reload that fails leaves the
	// limits in force alone.
	apply []*process.Adapter
}

func newSlotHandover(prev *Registry, f *config.File) *slotHandover {
	h := &slotHandover{taken: map[*process.Slots]bool{}}
	if prev == nil || len(prev.procs) == 0 {
		return h
	}
	h.prev = prev.procs
	h.kept = map[string]bool{}
	for i := range f.Models {
		if m := &f.Models[i]; m.Enabled && m.Adapter == config.AdapterProcess {
			h.kept[m.PoolKey()] = true
		}
	}
	return h
}

// keep marks the slots of a reused adapter as taken.
func (h *slotHandover) keep(a adapter.Adapter) {
	if pa, ok := a.(*process.Adapter); ok {
		h.taken[pa.Slots()] = true
	}
}

// take returns the previous slots m's adapter shares, or nil.
func (h *slotHandover) take(m *config.Model) *process.Slots {
	key := m.PoolKey()
	pick := func(match func(p *procSlots) bool) *process.Slots {
		for i := range h.prev {
			if p := &h.prev[i]; !h.taken[p.slots] && match(p) {
				h.taken[p.slots] = true
				return p.slots
			}
		}
		return nil
	}
	if s := pick(func(p *procSlots) bool { return p.poolKey == key }); s != nil {
		return s
	}
	return pick(func(p *procSlots) bool { return p.id == m.ID && !h.kept[p.poolKey] })
}

// applyLimits makes the new limits those of the shared slots.
func (h *slotHandover) applyLimits() {
	for _, a := range h.apply {
		a.ApplyLimits()
	}
}
