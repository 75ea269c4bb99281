package main

import (
	"flag"
	"fmt"
	"runtime/debug"
	"strings"
)

// description opens --help.
const description = `aigateway serves one OpenAI-compatible HTTP API (/v1/chat/completions,
/v1/completions, /v1/embeddings, /v1/models) in front of the models listed in
models.json: OpenAI-compatible hosts, Anthropic, Gemini and other JSON APIs,
and local programs. It retries and falls back between deployments, takes
failing ones out of rotation, reloads models.json on change or SIGHUP, and on
SIGINT/SIGTERM drains: /health and /ready answer 503 for --drain-delay, then
in-flight requests get --shutdown-timeout to finish. Every flag can also be
set by the environment variable named in its description. With "keys" in
models.json every request needs a gateway key; without, the gateway listens
only on loopback unless --allow-unauthenticated is given. Every request is
recorded in a usage ledger (SQLite, or PostgreSQL with --database-url).`

// usage prints the description and the flags.
func usage(fs *flag.FlagSet) {
	out := fs.Output()
	fmt.Fprintf(out, "%s\n\nUsage: aigateway [flags]\n       aigateway usage [flags]   print the usage ledger (see aigateway usage --help)\n       aigateway check [flags]   validate models.json and probe each model's upstream (see aigateway check --help)\n\nFlags:\n", description)
	fs.PrintDefaults()
}

// version describes the build: the main module's version, and the VCS
// revision and commit date when the binary was built from a checkout, e.g.
// "aigateway (devel) rev 1a2b3c4d5e6f 2026-12-04".
func version() string {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return "aigateway (unknown version)"
	}
	v := info.Main.Version
	if v == "" {
		v = "(devel)"
	}
	var b strings.Builder
	b.WriteString("aigateway " + v)
	var rev, when string
	modified := false
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			when = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev != "" {
		b.WriteString(" rev " + rev[:min(len(rev), 12)])
		if modified {
			b.WriteString("+dirty")
		}
	}
	if day, _, ok := strings.Cut(when, "T"); ok {
		b.WriteString(" " + day)
	}
	b.WriteString(" " + info.GoVersion)
	return b.String()
}
