package reload

import (
	"io/fs"
	"os"
	"path/filepath"
)

// retarget follows the config path when it is a symlink, moves the extra
// watch to the directory of the file it resolves to, and reports whether
// that file changed.
//
// Two setups need this. A link to a file elsewhere that is edited in place
// sends its events to the target's directory, so that directory is watched
// too. A Kubernetes ConfigMap volume (models.json -> ..data/models.json,
// ..data -> ..2024_01_01_xx) is updated by renaming a new ..data link into
// place: no event ever names models.json, so while the path is a symlink,
// any event in its directory makes Run resolve it again after the debounce,
// and a new target reloads.
//
// Limitation: intermediate links outside the path's own directory (a link
// to a link in a third directory) are not watched; changes there are seen
// only on the next event here or on SIGHUP.
func (w *Watcher) retarget() (changed bool) {
	target := ""
	fi, err := os.Lstat(w.path)
	w.isLink = err == nil && fi.Mode()&fs.ModeSymlink != 0
	if w.isLink {
		if t, err := filepath.EvalSymlinks(w.path); err == nil {
			target = t // a dangling link leaves "" until it resolves again
		}
	}
	if target == w.target {
		return false
	}
	w.target = target
	dir := ""
	if target != "" && filepath.Dir(target) != w.dir {
		dir = filepath.Dir(target)
	}
	if dir == w.targetDir {
		return true
	}
	if w.targetDir != "" {
		// Fails harmlessly when the directory is gone already: Kubernetes
		// deletes the old data directory, and the kernel drops its watch.
		_ = w.fsw.Remove(w.targetDir)
		w.targetDir = ""
	}
	if dir != "" {
		if err := w.fsw.Add(dir); err != nil {
			w.log.Warn("cannot watch the config symlink's target directory; edits there need SIGHUP",
				"path", w.name, "dir", dir, "error", err)
		} else {
			w.targetDir = dir
		}
	}
	return true
}
