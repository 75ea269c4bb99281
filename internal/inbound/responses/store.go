package responses

import (
	"container/list"
	"context"
	"sync"
	"time"
)

// Stored is what the gateway keeps of one response it answered with store
// true (or absent): enough to continue the conversation from it
// (previous_response_id) and to answer GET /v1/responses/{id}.
type Stored struct {
	// Response is the response object as the client got it in the answer
	// (or in response.completed).
	Response []byte
	// Conversation is a JSON array of Responses items: the input items of
	// the whole chain up to this response (previous_response_id already
	// expanded), followed by this response's output items. A follow-up
	// puts its own input after these.
	Conversation []byte
}

func (s Stored) size() int { return len(s.Response) + len(s.Conversation) }

// Store keeps stored responses. Implementations are safe for concurrent
// use. Put returns only after the response can be read by Get, on every
// replica that shares the store: a follow-up request may arrive the moment
// the client has read the answer (LiteLLM's late flush broke exactly this,
// LiteLLM#28587).
type Store interface {
	Put(ctx context.Context, id string, s Stored) error
	// Get returns the stored response; false when there is none (never
	// stored, expired or evicted).
	Get(ctx context.Context, id string) (Stored, bool, error)
}

// MemoryOptions bound a MemoryStore. Zero values mean the defaults.
type MemoryOptions struct {
	// TTL is how long a response is kept after it was stored; zero means
	// DefaultTTL.
	TTL time.Duration
	// MaxEntries caps the number of responses; zero means
	// DefaultMaxEntries. The oldest go first.
	MaxEntries int
	// MaxBytes caps the bytes held (responses and conversations); zero
	// means DefaultMaxBytes. The oldest go first.
	MaxBytes int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// The MemoryStore defaults: an agent's turn follows the previous one within
// seconds or minutes, so an hour covers a session's pauses without holding
// memory for days; a Codex conversation reaches hundreds of kilobytes, so
// the byte cap is what bounds memory in practice.
const (
	DefaultTTL        = time.Hour
	DefaultMaxEntries = 10000
	DefaultMaxBytes   = 256 << 20
)

// MemoryStore is a Store in this process's memory, bounded by age, count
// and bytes. It suits a single gateway; replicas need a shared store.
type MemoryStore struct {
	ttl        time.Duration
	maxEntries int
	maxBytes   int
	now        func() time.Time

	mu    sync.Mutex
	byID  map[string]*list.Element
	order *list.List // of *memEntry, oldest first
	bytes int
}

type memEntry struct {
	id      string
	stored  Stored
	expires time.Time
}

// NewMemoryStore returns an empty MemoryStore.
func NewMemoryStore(o MemoryOptions) *MemoryStore {
	m := &MemoryStore{ttl: o.TTL, maxEntries: o.MaxEntries, maxBytes: o.MaxBytes, now: o.Now,
		byID: make(map[string]*list.Element), order: list.New()}
	if m.ttl <= 0 {
		m.ttl = DefaultTTL
	}
	if m.maxEntries <= 0 {
		m.maxEntries = DefaultMaxEntries
	}
	if m.maxBytes <= 0 {
		m.maxBytes = DefaultMaxBytes
	}
	if m.now == nil {
		m.now = time.Now
	}
	return m
}

// Put stores s under id, replacing an earlier value, and evicts what is
// expired or over the bounds. A response larger than MaxBytes alone is not
// kept.
func (m *MemoryStore) Put(_ context.Context, id string, s Stored) error {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.byID[id]; ok {
		m.remove(el)
	}
	if s.size() > m.maxBytes {
		return nil
	}
	m.byID[id] = m.order.PushBack(&memEntry{id: id, stored: s, expires: now.Add(m.ttl)})
	m.bytes += s.size()
	for el := m.order.Front(); el != nil; el = m.order.Front() {
		e := el.Value.(*memEntry)
		if m.order.Len() <= m.maxEntries && m.bytes <= m.maxBytes && now.Before(e.expires) {
			break
		}
		m.remove(el)
	}
	return nil
}

// Get implements Store.
func (m *MemoryStore) Get(_ context.Context, id string) (Stored, bool, error) {
	now := m.now()
	m.mu.Lock()
	defer m.mu.Unlock()
	el, ok := m.byID[id]
	if !ok {
		return Stored{}, false, nil
	}
	e := el.Value.(*memEntry)
	if !now.Before(e.expires) {
		m.remove(el)
		return Stored{}, false, nil
	}
	return e.stored, true, nil
}

// Len returns the number of responses held.
func (m *MemoryStore) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}

func (m *MemoryStore) remove(el *list.Element) {
	e := m.order.Remove(el).(*memEntry)
	delete(m.byID, e.id)
	m.bytes -= e.stored.size()
}

var _ Store = (*MemoryStore)(nil)
