package registry

import (
	"fmt"
	"slices"
	"strings"
)

// Changes is what a reload changed, for the log: model ids and deployment
// names (the Label) added, removed or changed. A deployment is the same
// one when its name is; it changed when its entry, or a secret it resolves
// from the environment, did. Unnamed deployments go by their position
// (models[N]), so moving one in the file shows as changes.
type Changes struct {
	ModelsAdded, ModelsRemoved, ModelsChanged                []string
	DeploymentsAdded, DeploymentsRemoved, DeploymentsChanged []string
}

// Compare returns what changed from old to next.
func Compare(old, next *Registry) Changes {
	var c Changes
	oldDeps, nextDeps := old.deploymentKeys(), next.deploymentKeys()
	for _, d := range next.deployments {
		switch key, found := oldDeps[d.Label]; {
		case !found:
			c.DeploymentsAdded = append(c.DeploymentsAdded, d.Label)
		case key != d.key:
			c.DeploymentsChanged = append(c.DeploymentsChanged, d.Label)
		}
	}
	for _, d := range old.deployments {
		if _, found := nextDeps[d.Label]; !found {
			c.DeploymentsRemoved = append(c.DeploymentsRemoved, d.Label)
		}
	}
	oldModels, nextModels := old.modelKeys(), next.modelKeys()
	for _, id := range next.ids {
		key, found := oldModels[id]
		switch {
		case slices.Contains(c.ModelsAdded, id) || slices.Contains(c.ModelsChanged, id):
		case !found:
			c.ModelsAdded = append(c.ModelsAdded, id)
		case key != nextModels[id]:
			c.ModelsChanged = append(c.ModelsChanged, id)
		}
	}
	for _, id := range old.ids {
		if _, found := nextModels[id]; !found && !slices.Contains(c.ModelsRemoved, id) {
			c.ModelsRemoved = append(c.ModelsRemoved, id)
		}
	}
	return c
}

// Attrs returns the non-empty lists as slog key-value pairs
// (models_added, deployments_changed, ...), or none when nothing changed.
func (c Changes) Attrs() []any {
	var out []any
	for _, l := range []struct {
		key  string
		list []string
	}{
		{"models_added", c.ModelsAdded}, {"models_removed", c.ModelsRemoved}, {"models_changed", c.ModelsChanged},
		{"deployments_added", c.DeploymentsAdded}, {"deployments_removed", c.DeploymentsRemoved}, {"deployments_changed", c.DeploymentsChanged},
	} {
		if len(l.list) > 0 {
			out = append(out, l.key, strings.Join(l.list, ","))
		}
	}
	return out
}

// deploymentKeys maps each deployment's name to its identity.
func (r *Registry) deploymentKeys() map[string]string {
	m := make(map[string]string, len(r.deployments))
	for _, d := range r.deployments {
		m[d.Label] = d.key
	}
	return m
}

// modelKeys maps each model id to what makes it up: its deployments (name
// and identity, in order) and its pool settings.
func (r *Registry) modelKeys() map[string]string {
	m := make(map[string]string, len(r.ids))
	for i, d := range r.deployments {
		m[r.ids[i]] += d.Label + "\x00" + d.key + "\x00"
	}
	for id, model := range r.byID {
		m[id] += fmt.Sprint(model.Fallbacks, model.Retries)
	}
	return m
}
