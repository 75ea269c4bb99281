package dashboard

import (
	"embed"
	"io/fs"
	"net/http"
)

// static holds the page: index.html, app.js, style.css and the vendored
// uPlot (static/vendor, see vendor.sh). Nothing is fetched from elsewhere,
// so the page works offline.
//
//go:embed static
var static embed.FS

// ContentSecurityPolicy lets the page load only its own files and talk
// only to its own origin. uPlot sizes its elements through the style
// properties of the DOM, which style-src does not govern, so no inline
// style or script is allowed.
const ContentSecurityPolicy = "default-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'; object-src 'none'"

// Files serves the page's files, for paths relative to /ui/. They hold no
// data (the page asks the JSON endpoints, which check the admin key), so
// they are served to anyone.
func Files() http.Handler {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.FileServerFS(sub)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		// The files are small and a new gateway may ship a new page:
		// revalidate every time.
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
