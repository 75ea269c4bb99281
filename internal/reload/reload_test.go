package reload

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// hang is how long a wait may take before the test calls it a hang. It is
// not a speed requirement.
const hang = 10 * time.Second

// testDebounce is long enough that a test's own burst of writes falls
// inside one window even on a loaded machine.
const testDebounce = 150 * time.Millisecond

// quiet is how long a test waits to be sure no (further) reload comes.
const quiet = 4 * testDebounce

// logBuffer is a goroutine-safe log sink: Run writes while the test reads.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// harness runs a Watcher on a config file in a temporary directory and
// records each Reload as the content it read.
type harness struct {
	t       *testing.T
	dir     string
	path    string
	reloads chan string
	signals chan os.Signal
	logs    *logBuffer
	fail    atomic.Int32 // Reload calls that should fail
	cancel  context.CancelFunc
	done    chan error
}

func start(t *testing.T, path string) *harness {
	t.Helper()
	h := &harness{
		t: t, dir: filepath.Dir(path), path: path,
		reloads: make(chan string, 100), signals: make(chan os.Signal, 1),
		logs: &logBuffer{}, done: make(chan error, 1),
	}
	var inFlight atomic.Int32
	w, err := New(Options{
		Path: path, Debounce: testDebounce, Signals: h.signals,
		Logger: slog.New(slog.NewTextHandler(h.logs, nil)),
		Reload: func(ctx context.Context) error {
			if inFlight.Add(1) != 1 {
				t.Error("two Reloads ran at once")
			}
			defer inFlight.Add(-1)
			data, err := os.ReadFile(path)
			if err != nil {
				t.Errorf("Reload could not read the config: %v", err)
				return err
			}
			h.reloads <- string(data)
			if h.fail.Load() > 0 {
				h.fail.Add(-1)
				return errors.New("bad config: boom")
			}
			return nil
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.cancel = cancel
	go func() { h.done <- w.Run(ctx) }()
	t.Cleanup(h.stop)
	return h
}

func startInTemp(t *testing.T) *harness {
	t.Helper()
	path := filepath.Join(t.TempDir(), "models.json")
	writeFile(t, path, "v0")
	return start(t, path)
}

// stop cancels Run and waits for it to return nil.
func (h *harness) stop() {
	h.cancel()
	select {
	case err := <-h.done:
		if err != nil {
			h.t.Errorf("Run returned %v, want nil", err)
		}
		h.done <- nil // later stop calls return at once
	case <-time.After(hang):
		h.t.Fatal("Run did not return after cancel")
	}
}

// wantReload waits for one reload and checks the content it read.
func (h *harness) wantReload(want string) {
	h.t.Helper()
	select {
	case got := <-h.reloads:
		if got != want {
			h.t.Errorf("Reload read %q, want %q", got, want)
		}
	case <-time.After(hang):
		h.t.Fatalf("no reload (want content %q)", want)
	}
}

// wantNoReload checks that no reload comes for a while.
func (h *harness) wantNoReload() {
	h.t.Helper()
	select {
	case got := <-h.reloads:
		h.t.Errorf("unexpected reload (read %q)", got)
	case <-time.After(quiet):
	}
}

// waitLog waits until the log contains want: Run logs after Reload returns.
func (h *harness) waitLog(want string) {
	h.t.Helper()
	deadline := time.Now().Add(hang)
	for !strings.Contains(h.logs.String(), want) {
		if time.Now().After(deadline) {
			h.t.Fatalf("log never contained %q:\n%s", want, h.logs)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// replace writes content to a temporary file and renames it over path, as
// editors and config management tools do.
func replace(t *testing.T, path, content string) {
	t.Helper()
	tmp := path + ".tmp"
	writeFile(t, tmp, content)
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
}

func TestRewriteInPlaceReloadsOnce(t *testing.T) {
	h := startInTemp(t)
	writeFile(t, h.path, "v1")
	h.wantReload("v1")
	h.waitLog(`msg="config reloaded"`)
	h.wantNoReload()
}

func TestReplaceByRenameTwice(t *testing.T) {
	h := startInTemp(t)
	replace(t, h.path, "v1")
	h.wantReload("v1")
	replace(t, h.path, "v2") // the watch must survive the first rename
	h.wantReload("v2")
	h.wantNoReload()
}

func TestDeleteThenCreate(t *testing.T) {
	h := startInTemp(t)
	if err := os.Remove(h.path); err != nil {
		t.Fatal(err)
	}
	writeFile(t, h.path, "v1") // within the debounce: no failed reload in between
	h.wantReload("v1")
	h.wantNoReload()
	if strings.Contains(h.logs.String(), "failed") {
		t.Errorf("a failed reload was logged:\n%s", h.logs)
	}
}

func TestMissingFileWaitsForItsReturn(t *testing.T) {
	h := startInTemp(t)
	if err := os.Remove(h.path); err != nil {
		t.Fatal(err)
	}
	h.waitLog("config file is gone")
	h.wantNoReload()
	writeFile(t, h.path, "v1")
	h.wantReload("v1")
}

func TestBurstOfWritesReloadsOnce(t *testing.T) {
	h := startInTemp(t)
	for i := range 5 {
		writeFile(t, h.path, strings.Repeat("x", i+1))
	}
	h.wantReload("xxxxx")
	h.wantNoReload()
}

func TestOtherFilesAreIgnored(t *testing.T) {
	h := startInTemp(t)
	writeFile(t, filepath.Join(h.dir, "other.json"), "x")
	replace(t, filepath.Join(h.dir, "models.json.bak"), "x")
	if err := os.Remove(filepath.Join(h.dir, "other.json")); err != nil {
		t.Fatal(err)
	}
	h.wantNoReload()
}

func TestSignalReloads(t *testing.T) {
	h := startInTemp(t)
	h.signals <- syscall.SIGHUP
	h.wantReload("v0")
	h.waitLog("trigger=signal")
}

func TestFailedReloadIsLoggedAndWatchingContinues(t *testing.T) {
	h := startInTemp(t)
	h.fail.Store(1)
	writeFile(t, h.path, "bad")
	h.wantReload("bad")
	writeFile(t, h.path, "good")
	h.wantReload("good")
	h.waitLog(`level=ERROR msg="config reload failed; still serving the previous config"`)
	h.waitLog("bad config: boom")
	h.waitLog(`level=INFO msg="config reloaded"`)
}

func TestCancelStopsRun(t *testing.T) {
	h := startInTemp(t)
	h.stop() // fails on a hang or a non-nil error; goleak checks the rest
}

// TestKubernetesConfigMapSwap mimics how the kubelet updates a ConfigMap
// volume: the file is a link through ..data, and an update renames a new
// ..data link into place without any event naming the file.
func TestKubernetesConfigMapSwap(t *testing.T) {
	dir := t.TempDir()
	version := func(name, content string) {
		if err := os.Mkdir(filepath.Join(dir, name), 0o755); err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dir, name, "models.json"), content)
	}
	swap := func(name string) {
		if err := os.Symlink(name, filepath.Join(dir, "..data_tmp")); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(filepath.Join(dir, "..data_tmp"), filepath.Join(dir, "..data")); err != nil {
			t.Fatal(err)
		}
	}
	version("..v1", "v1")
	swap("..v1")
	path := filepath.Join(dir, "models.json")
	if err := os.Symlink(filepath.Join("..data", "models.json"), path); err != nil {
		t.Fatal(err)
	}
	h := start(t, path)

	prev := "..v1"
	for _, v := range []string{"v2", "v3"} {
		version(".."+v, v)
		swap(".." + v) // no event names models.json
		h.wantReload(v)
		// The kubelet then deletes the old version; the link is unchanged.
		if err := os.RemoveAll(filepath.Join(dir, prev)); err != nil {
			t.Fatal(err)
		}
		prev = ".." + v
	}
	writeFile(t, filepath.Join(dir, "unrelated"), "x")
	h.wantNoReload()
}

func TestSymlinkTargetEditedInPlace(t *testing.T) {
	target := filepath.Join(t.TempDir(), "real.json")
	writeFile(t, target, "v0")
	path := filepath.Join(t.TempDir(), "models.json")
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
	h := start(t, path)
	writeFile(t, target, "v1")
	h.wantReload("v1")
}

func TestNewErrors(t *testing.T) {
	noop := func(context.Context) error { return nil }
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"no path", Options{Reload: noop}},
		{"no reload", Options{Path: "models.json"}},
		{"negative debounce", Options{Path: "models.json", Reload: noop, Debounce: -1}},
		{"missing directory", Options{Path: filepath.Join(t.TempDir(), "nope", "models.json"), Reload: noop}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if w, err := New(tc.o); err == nil {
				w.Close()
				t.Error("New succeeded, want an error")
			}
		})
	}
}

func TestCloseWithoutRunAndRunTwice(t *testing.T) {
	w, err := New(Options{Path: filepath.Join(t.TempDir(), "models.json"), Reload: func(context.Context) error { return nil }})
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := w.Run(ctx); err == nil {
		t.Error("Run on a closed watcher returned nil")
	}
	if err := w.Run(ctx); err == nil || !strings.Contains(err.Error(), "more than once") {
		t.Errorf("second Run returned %v, want a 'more than once' error", err)
	}
}
