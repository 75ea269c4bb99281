// Package reload calls a reload function when the config file changes on
// disk or the process receives SIGHUP.
//
// It watches the file's directory, not the file: editors and config
// management tools replace a file by renaming a temporary file over it, or
// delete and recreate it, and a watch on the file itself is lost with the
// first replacement. Events are debounced so that a save made of several
// writes gives one reload, and reloads run one at a time on Run's goroutine.
package reload

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/fsnotify/fsnotify"
)

// DefaultDebounce is the quiet time after the last file event before a
// reload, when Options.Debounce is zero.
const DefaultDebounce = 100 * time.Millisecond

// Options configure a Watcher.
type Options struct {
	// Path is the config file. Required. It need not exist yet.
	Path string
	// Reload loads, validates and swaps in the new config. An error means the
	// old config keeps serving. Required.
	Reload func(ctx context.Context) error
	// Logger receives one line per reload; nil means slog.Default().
	Logger *slog.Logger
	// Debounce is how long the file must stay quiet before a reload; zero
	// means DefaultDebounce.
	Debounce time.Duration
	// Signals delivers SIGHUPs (from signal.Notify); each one reloads at once.
	// Nil means no signals. A closed channel is treated as nil.
	Signals <-chan os.Signal
}

// Watcher calls Reload when the config file changes or a SIGHUP arrives.
type Watcher struct {
	path     string // absolute and clean, compared with event names
	name     string // Path as given, for logs
	dir      string // always watched
	reload   func(context.Context) error
	log      *slog.Logger
	debounce time.Duration
	signals  <-chan os.Signal
	fsw      *fsnotify.Watcher

	// Symlink state, used by New and then only by Run's goroutine.
	isLink    bool   // path itself is a symlink
	target    string // what path resolves to; "" when not a symlink or dangling
	targetDir string // the extra watched directory of target; "" when none

	running   atomic.Bool
	closeOnce sync.Once
	closeErr  error
}

// New starts watching the directory of o.Path. It fails when the options are
// invalid or the directory cannot be watched. Call Run to act on events, or
// Close to stop watching without running.
func New(o Options) (*Watcher, error) {
	if o.Path == "" {
		return nil, errors.New("reload: Options.Path is empty")
	}
	if o.Reload == nil {
		return nil, errors.New("reload: Options.Reload is nil")
	}
	if o.Debounce < 0 {
		return nil, fmt.Errorf("reload: Options.Debounce must not be negative, got %s", o.Debounce)
	}
	abs, err := filepath.Abs(o.Path)
	if err != nil {
		return nil, fmt.Errorf("reload: %s: %w", o.Path, err)
	}
	w := &Watcher{
		path: abs, name: o.Path, dir: filepath.Dir(abs),
		reload: o.Reload, log: o.Logger, debounce: o.Debounce, signals: o.Signals,
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	if w.debounce == 0 {
		w.debounce = DefaultDebounce
	}
	if w.fsw, err = fsnotify.NewWatcher(); err != nil {
		return nil, fmt.Errorf("reload: starting the file watcher: %w", err)
	}
	if err := w.fsw.Add(w.dir); err != nil {
		w.fsw.Close()
		return nil, fmt.Errorf("reload: watching %s: %w", w.dir, err)
	}
	w.retarget()
	return w, nil
}

// Close stops watching. Run calls it on return; call it yourself only when
// Run will not be called. Calling it more than once is safe.
func (w *Watcher) Close() error {
	w.closeOnce.Do(func() { w.closeErr = w.fsw.Close() })
	return w.closeErr
}

// Run blocks until ctx is canceled, reloading on file events (after the
// debounce) and at once on each signal. It returns nil on cancellation, and
// closes the watcher before returning. It may be called once.
func (w *Watcher) Run(ctx context.Context) error {
	if !w.running.CompareAndSwap(false, true) {
		return errors.New("reload: Run called more than once")
	}
	defer w.Close()
	timer := time.NewTimer(w.debounce)
	timer.Stop()
	defer timer.Stop()
	var (
		fire    <-chan time.Time // non-nil while a burst of events is pending
		touched bool             // the burst named the config file, not just its directory
	)
	pend := func(match bool) {
		touched = touched || match
		timer.Reset(w.debounce)
		fire = timer.C
	}
	signals := w.signals
	for {
		select {
		case <-ctx.Done():
			return nil
		case ev, ok := <-w.fsw.Events:
			if !ok {
				return errors.New("reload: file watcher closed")
			}
			if match, maybe := w.classify(ev); match || maybe {
				pend(match)
			}
		case err, ok := <-w.fsw.Errors:
			if !ok {
				return errors.New("reload: file watcher closed")
			}
			if errors.Is(err, fsnotify.ErrEventOverflow) {
				// Events were dropped, possibly ours: reload to be sure.
				w.log.Warn("config watcher missed events; reloading", "path", w.name, "error", err)
				pend(true)
				continue
			}
			w.log.Warn("config watcher error", "path", w.name, "error", err)
		case sig, ok := <-signals:
			if !ok {
				signals = nil
				continue
			}
			w.reloadNow(ctx, "signal", "signal", sig.String())
		case <-fire:
			fire = nil
			changed := w.retarget()
			if !touched && !changed {
				continue // something else in the directory changed
			}
			touched = false
			if _, err := os.Stat(w.path); errors.Is(err, fs.ErrNotExist) {
				// Deleted and not (yet) recreated: Reload would only fail.
				// The Create event that brings it back reloads.
				w.log.Warn("config file is gone; still serving the previous config until it reappears", "path", w.name)
				continue
			}
			w.reloadNow(ctx, "file change")
		}
	}
}

// classify reports whether ev names the config file (match), or may have
// changed where a symlinked config file points (maybe).
func (w *Watcher) classify(ev fsnotify.Event) (match, maybe bool) {
	// Chmod alone is ignored, as fsnotify advises: backup, indexing and
	// antivirus tools touch attributes constantly, and a mode change does not
	// change the config. SIGHUP is the way to force a reload.
	if ev.Op == fsnotify.Chmod {
		return false, false
	}
	name := filepath.Clean(ev.Name)
	if name == w.path || (w.target != "" && name == w.target) {
		return true, false
	}
	return false, w.isLink && filepath.Dir(name) == w.dir
}

// reloadNow calls Reload and logs the outcome.
func (w *Watcher) reloadNow(ctx context.Context, trigger string, attrs ...any) {
	if ctx.Err() != nil {
		return // shutting down; select picked another ready case
	}
	start := time.Now()
	err := w.reload(ctx)
	attrs = append([]any{"path", w.name, "trigger", trigger, "duration_ms", float64(time.Since(start).Microseconds()) / 1000}, attrs...)
	if err != nil {
		if ctx.Err() != nil {
			return // canceled by shutdown, not a config problem
		}
		w.log.Error("config reload failed; still serving the previous config", append(attrs, "error", err)...)
		return
	}
	w.log.Info("config reloaded", attrs...)
}
