package responses

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// newTestRedisStore returns a RedisStore under a prefix of this test's own
// (Redis keeps keys between runs and packages run in parallel) and a plain
// client to look at its keys; it skips without AIGW_REDIS_URL.
func newTestRedisStore(t testing.TB, o RedisStoreOptions) (*RedisStore, *redis.Client, string) {
	t.Helper()
	u := os.Getenv("AIGW_REDIS_URL")
	if u == "" {
		t.Skip("AIGW_REDIS_URL is not set (e.g. redis://127.0.0.1:6379/0): skipping the Redis responses store")
	}
	o.Prefix = fmt.Sprintf("aigw-test:responses:%s:%x:", t.Name(), rand.Uint64())
	s, err := NewRedisStore(context.Background(), u, o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ro, err := redis.ParseURL(u)
	if err != nil {
		t.Fatal(err)
	}
	c := redis.NewClient(ro)
	t.Cleanup(func() {
		keys, _ := c.Keys(context.Background(), o.Prefix+"*").Result()
		if len(keys) > 0 {
			c.Del(context.Background(), keys...)
		}
		c.Close()
	})
	return s, c, o.Prefix
}

func TestRedisStoreRoundTrip(t *testing.T) {
	s, c, prefix := newTestRedisStore(t, RedisStoreOptions{})
	ctx := context.Background()
	want := Stored{Response: []byte(`{"id":"resp_1","object":"response"}`), Conversation: []byte(`[{"role":"user","content":"hi"}]`)}
	if err := s.Put(ctx, "resp_1", want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Get(ctx, "resp_1")
	if err != nil || !ok || !bytes.Equal(got.Response, want.Response) || !bytes.Equal(got.Conversation, want.Conversation) {
		t.Fatalf("Get: %q %q %v %v", got.Response, got.Conversation, ok, err)
	}
	// Exactly one key, a string: one SET, one GET.
	if typ := c.Type(ctx, prefix+"resp_1").Val(); typ != "string" {
		t.Errorf("key type %q, want string", typ)
	}
	if n := len(c.Keys(ctx, prefix+"*").Val()); n != 1 {
		t.Errorf("%d keys under the prefix, want 1", n)
	}
	// An empty conversation and an empty response survive as such.
	if err := s.Put(ctx, "resp_empty", Stored{Response: []byte(`{}`), Conversation: []byte{}}); err != nil {
		t.Fatal(err)
	}
	got, ok, err = s.Get(ctx, "resp_empty")
	if err != nil || !ok || string(got.Response) != "{}" || len(got.Conversation) != 0 {
		t.Errorf("empty conversation: %q %q %v %v", got.Response, got.Conversation, ok, err)
	}
}

func TestRedisStoreMissingAndCorrupt(t *testing.T) {
	s, c, prefix := newTestRedisStore(t, RedisStoreOptions{})
	ctx := context.Background()
	if _, ok, err := s.Get(ctx, "resp_never"); ok || err != nil {
		t.Errorf("missing id: ok %v, err %v; want not found and no error", ok, err)
	}
	// A value this store did not write (another program on the prefix)
	// is an error, not a truncated response.
	c.Set(ctx, prefix+"resp_bad", "\x00\x00\x10\x00short", time.Minute)
	if _, ok, err := s.Get(ctx, "resp_bad"); ok || err == nil {
		t.Errorf("corrupt value: ok %v, err %v; want an error", ok, err)
	}
}

// TestRedisStoreTTL checks the TTL Redis got with the SET (PTTL) instead
// of waiting for it, then that an expired key reads as not found.
func TestRedisStoreTTL(t *testing.T) {
	ctx := context.Background()
	s, c, prefix := newTestRedisStore(t, RedisStoreOptions{})
	if err := s.Put(ctx, "resp_1", Stored{Response: []byte(`{}`), Conversation: []byte(`[]`)}); err != nil {
		t.Fatal(err)
	}
	if ttl := c.PTTL(ctx, prefix+"resp_1").Val(); ttl <= DefaultTTL-time.Minute || ttl > DefaultTTL {
		t.Errorf("default TTL: PTTL %s, want about %s", ttl, DefaultTTL)
	}

	s, c, prefix = newTestRedisStore(t, RedisStoreOptions{TTL: 90 * time.Second})
	if err := s.Put(ctx, "resp_2", Stored{Response: []byte(`{}`), Conversation: []byte(`[]`)}); err != nil {
		t.Fatal(err)
	}
	if ttl := c.PTTL(ctx, prefix+"resp_2").Val(); ttl <= 80*time.Second || ttl > 90*time.Second {
		t.Errorf("TTL 90s: PTTL %s", ttl)
	}
	// Expire it now, as Redis does when the TTL ends.
	c.PExpire(ctx, prefix+"resp_2", time.Millisecond)
	deadline := time.Now().Add(5 * time.Second)
	for c.Exists(ctx, prefix+"resp_2").Val() == 1 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if _, ok, err := s.Get(ctx, "resp_2"); ok || err != nil {
		t.Errorf("expired: ok %v, err %v; want not found", ok, err)
	}
}

func TestRedisStoreLargeConversation(t *testing.T) {
	s, c, prefix := newTestRedisStore(t, RedisStoreOptions{MaxBytes: 8 << 20})
	ctx := context.Background()
	// A Codex-sized conversation: megabytes of items, every byte value.
	conv := make([]byte, 5<<20)
	for i := range conv {
		conv[i] = byte(i * 7)
	}
	want := Stored{Response: bytes.Repeat([]byte("r"), 300<<10), Conversation: conv}
	if err := s.Put(ctx, "resp_big", want); err != nil {
		t.Fatal(err)
	}
	got, ok, err := s.Get(ctx, "resp_big")
	if err != nil || !ok || !bytes.Equal(got.Response, want.Response) || !bytes.Equal(got.Conversation, want.Conversation) {
		t.Fatalf("large: ok %v err %v, lengths %d/%d", ok, err, len(got.Response), len(got.Conversation))
	}

	// Over MaxBytes: refused with ErrTooLarge, and nothing is written.
	over := Stored{Response: []byte(`{}`), Conversation: make([]byte, 8<<20)}
	if err := s.Put(ctx, "resp_over", over); !errors.Is(err, ErrTooLarge) {
		t.Errorf("over MaxBytes: %v, want ErrTooLarge", err)
	}
	if n := c.Exists(ctx, prefix+"resp_over").Val(); n != 0 {
		t.Errorf("the refused response was written")
	}
}

// TestRedisStoreConcurrent puts and gets from many goroutines (run with
// -race): every Get after its Put returned sees exactly its own value.
func TestRedisStoreConcurrent(t *testing.T) {
	s, _, _ := newTestRedisStore(t, RedisStoreOptions{})
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for g := range 16 {
		wg.Go(func() {
			for i := range 50 {
				id := fmt.Sprintf("resp_%d_%d", g, i)
				st := Stored{Response: []byte(`{"id":"` + id + `"}`), Conversation: []byte(`["` + strings.Repeat(id, i) + `"]`)}
				if err := s.Put(ctx, id, st); err != nil {
					errs <- err
					return
				}
				got, ok, err := s.Get(ctx, id)
				if err != nil || !ok || !bytes.Equal(got.Response, st.Response) || !bytes.Equal(got.Conversation, st.Conversation) {
					errs <- fmt.Errorf("%s: ok %v err %v got %q", id, ok, err, got.Response)
					return
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// TestRedisStoreURLSecrets: a malformed URL is the only constructor error
// and does not show the password; a Redis that refuses the password fails
// Put and Get without showing it either. Needs no Redis for the first part.
func TestRedisStoreURLSecrets(t *testing.T) {
	const password = "s3cret-pa55word-0123"
	for _, u := range []string{
		"redis://user:" + password + "@127.0.0.1:6379/notadb",
		"redis://user:" + password + "@127.0.0.1:6379/0?dial_timeout=forever",
		"http://user:" + password + "@127.0.0.1:6379/0",
		"redis://user:" + password + "@[::1/0",
	} {
		_, err := NewRedisStore(context.Background(), u, RedisStoreOptions{})
		if err == nil {
			t.Errorf("%s: no error", strings.ReplaceAll(u, password, "***"))
			continue
		}
		if strings.Contains(err.Error(), password) {
			t.Errorf("the error shows the password: %v", err)
		}
	}

	// Down: an address where nothing listens. Errors, not hangs, and no
	// password in them.
	s, err := NewRedisStore(context.Background(), "redis://user:"+password+"@127.0.0.1:1/0", RedisStoreOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	if err := s.Put(ctx, "resp_1", Stored{Response: []byte(`{}`)}); err == nil || strings.Contains(err.Error(), password) {
		t.Errorf("Put with Redis down: %v", err)
	}
	if _, ok, err := s.Get(ctx, "resp_1"); err == nil || ok || strings.Contains(err.Error(), password) {
		t.Errorf("Get with Redis down: %v %v", ok, err)
	}
}

func TestEncodeStored(t *testing.T) {
	for _, st := range []Stored{
		{},
		{Response: []byte("r")},
		{Conversation: []byte("c")},
		{Response: []byte(`{"id":"x"}`), Conversation: []byte(`[1,2]`)},
	} {
		got, ok := decodeStored(encodeStored(st))
		if !ok || !bytes.Equal(got.Response, st.Response) || !bytes.Equal(got.Conversation, st.Conversation) {
			t.Errorf("%q/%q: got %q/%q %v", st.Response, st.Conversation, got.Response, got.Conversation, ok)
		}
	}
	for _, v := range []string{"", "\x00\x00\x00", "\x00\x00\x00\x02x", "\xff\xff\xff\xff"} {
		if _, ok := decodeStored([]byte(v)); ok {
			t.Errorf("%q decoded", v)
		}
	}
}

func BenchmarkRedisStore(b *testing.B) {
	s, _, _ := newTestRedisStore(b, RedisStoreOptions{})
	ctx := context.Background()
	st := Stored{Response: bytes.Repeat([]byte("r"), 4<<10), Conversation: bytes.Repeat([]byte("c"), 200<<10)}
	b.Run("put", func(b *testing.B) {
		b.SetBytes(int64(st.size()))
		for i := 0; b.Loop(); i++ {
			if err := s.Put(ctx, fmt.Sprintf("resp_%d", i%100), st); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("get", func(b *testing.B) {
		b.SetBytes(int64(st.size()))
		for i := 0; b.Loop(); i++ {
			if _, ok, err := s.Get(ctx, fmt.Sprintf("resp_%d", i%100)); err != nil || !ok {
				b.Fatal(ok, err)
			}
		}
	})
}
