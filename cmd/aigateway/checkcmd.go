package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"aigateway/internal/adapter"
	"aigateway/internal/config"
	"aigateway/internal/openai"
	"aigateway/internal/redact"
	"aigateway/internal/registry"
)

// errCheckFailed is runCheck's answer when the table shows a problem: the
// table already says what, so main only has to exit non-zero.
var errCheckFailed = errors.New("check failed")

// maxParallelProbes bounds the probes in flight, so that a config with many
// entries does not open a connection to every upstream at once.
const maxParallelProbes = 8

// probeBody is the one-token request of --probe.
const probeBody = `{"model":%q,"messages":[{"role":"user","content":"ping"}],"max_tokens":1}`

// checkRow is one enabled entry in the table.
type checkRow struct {
	id, deployment, adapterType, upstream string
	key                                   string // yes, no, or "-" when the entry needs none
	reachable                             string // yes, no, or "-" when not probed
	latency                               time.Duration
	err                                   string // short, with secrets redacted
}

// runCheck is `aigateway check`: it validates models.json the way the
// server does, reporting every problem, then checks that each enabled
// entry has its key and that its upstream answers.
func runCheck(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	flags := flag.NewFlagSet("aigateway check", flag.ContinueOnError)
	flags.SetOutput(stderr)
	def := "config/models.json"
	if v, ok := os.LookupEnv("AIGATEWAY_CONFIG"); ok {
		def = v
	}
	cfg := flags.String("config", def, "path of models.json (env AIGATEWAY_CONFIG)")
	probe := flags.Bool("probe", false, "send each model a one-token chat request through its adapter instead of listing its models")
	timeout := flags.Duration("timeout", 10*time.Second, "time limit of each probe")
	flags.Usage = func() {
		fmt.Fprintf(flags.Output(), "Usage: aigateway check [flags]\n\nValidates models.json, reporting every problem, then checks that each enabled\nmodel has its key and that its upstream answers. Exits non-zero when anything\nis wrong.\n\nFlags:\n")
		flags.PrintDefaults()
	}
	if err := flags.Parse(args); err != nil {
		return err
	}
	if flags.NArg() > 0 {
		return fmt.Errorf("check: unexpected argument %q (see aigateway check --help)", flags.Arg(0))
	}
	if *timeout <= 0 {
		return errors.New("check: --timeout must be positive")
	}
	f, errs := config.LoadAll(*cfg)
	if len(errs) > 0 {
		fmt.Fprintf(stdout, "%s: %d problem(s):\n", *cfg, len(errs))
		for _, err := range errs {
			fmt.Fprintf(stdout, "  %v\n", err)
		}
		return errCheckFailed
	}
	// Build never touches the network: it resolves keys and programs and
	// constructs the adapters the server would.
	reg, err := registry.Build(f, registry.Deps{Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return fmt.Errorf("%s: %w", *cfg, err)
	}
	defer reg.Close()

	rows := checkModels(ctx, f, reg, *probe, *timeout)
	failed := writeCheckTable(stdout, rows)
	if failed {
		return errCheckFailed
	}
	return nil
}

// checkModels probes the enabled entries concurrently and returns their
// rows in file order.
func checkModels(ctx context.Context, f *config.File, reg *registry.Registry, probe bool, timeout time.Duration) []checkRow {
	var deps []*registry.Deployment
	reg.Entries(func(_ string, d *registry.Deployment) { deps = append(deps, d) })
	rows := make([]checkRow, 0, len(f.Models))
	var wg sync.WaitGroup
	slots := make(chan struct{}, maxParallelProbes)
	for i := range f.Models {
		cm := &f.Models[i]
		if !cm.Enabled {
			continue
		}
		dep := deps[i]
		adapterType := cm.Adapter
		if cm.Protocol != "" { // custom_http says less than its protocol
			adapterType = cm.Protocol
		}
		rows = append(rows, checkRow{id: cm.ID, deployment: dep.Label, adapterType: adapterType, upstream: dep.Upstream,
			key: keyState(cm), reachable: "-"})
		row := &rows[len(rows)-1]
		if dep.Adapter == nil {
			// A missing key, header variable or program: nothing to probe.
			row.err = dep.Unavailable
			continue
		}
		wg.Go(func() {
			slots <- struct{}{}
			defer func() { <-slots }()
			pctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			start := time.Now()
			var err error
			if probe {
				err = probeAdapter(pctx, cm, dep.Adapter)
			} else {
				err = probeUpstream(pctx, cm)
			}
			row.latency = time.Since(start)
			row.reachable = "yes"
			if err != nil {
				row.reachable = "no"
				row.err = shortError(cm, err)
			}
		})
	}
	wg.Wait()
	return rows
}

// keyState is the KEY column: whether the entry's key is present, or "-"
// when it uses none. It never looks at the value beyond that.
func keyState(cm *config.Model) string {
	if cm.APIKey == "" && cm.APIKeyEnv == "" {
		return "-"
	}
	if _, _, ok := cm.ResolveAPIKey(nil); ok {
		return "yes"
	}
	return "no"
}

// probeAdapter sends the one-token request through the deployment's own
// adapter, exactly as the gateway would.
func probeAdapter(ctx context.Context, cm *config.Model, a adapter.Adapter) error {
	body := fmt.Appendf(nil, probeBody, cm.ID)
	fields, perr := openai.Peek(body)
	if perr != nil { // our own body: cannot happen
		return errors.New(perr.Message)
	}
	resp, err := a.Send(ctx, &adapter.Request{Op: adapter.OpChat, Body: body, Fields: fields, RequestID: "aigateway-check"})
	if err != nil {
		return err
	}
	if resp.Stream != nil {
		resp.Stream.Close()
	}
	return nil
}

// probeUpstream is the cheap check: the upstream's model list (which
// proves the key too), the base URL's origin for template entries, or
// nothing for a local program, whose presence Build already checked.
func probeUpstream(ctx context.Context, cm *config.Model) error {
	if cm.Adapter == config.AdapterProcess {
		return nil
	}
	key, _, _ := cm.ResolveAPIKey(nil)
	headers, _, _ := cm.ResolveHeaders(nil, key)
	root, query := adapter.CutQuery(cm.BaseURL)
	method, target := http.MethodGet, ""
	h := http.Header{}
	switch cm.Protocol {
	case config.ProtocolAnthropic:
		target = adapter.JoinURL(strings.TrimSuffix(root, "/v1")+query, "/v1/models")
		if key != "" {
			h.Set("X-Api-Key", key)
		}
		h.Set("Anthropic-Version", "2023-06-01")
	case config.ProtocolGemini:
		if !strings.HasSuffix(root, "/v1beta") && !strings.HasSuffix(root, "/v1") {
			root += "/v1beta"
		}
		target = adapter.JoinURL(root+query, "/models")
		if key != "" {
			h.Set("X-Goog-Api-Key", key) // a header, not ?key=, keeps it out of error messages
		}
	case config.ProtocolTemplate:
		u, err := url.Parse(cm.BaseURL)
		if err != nil {
			return err
		}
		method, target = http.MethodHead, u.Scheme+"://"+u.Host+"/"
	default: // openai_compat
		target = adapter.JoinURL(cm.BaseURL, "/models")
		if key != "" {
			h.Set("Authorization", "Bearer "+key)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, target, nil)
	if err != nil {
		return err
	}
	req.Header = h
	for k, v := range headers {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		var ue *url.Error
		if errors.As(err, &ue) { // its message repeats the URL, query and all
			err = ue.Err
		}
		return err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) //nolint:errcheck // only to reuse the connection
	if cm.Protocol == config.ProtocolTemplate {
		return nil // any answer shows the host is up; the template's path may need a POST
	}
	if resp.StatusCode/100 != 2 {
		return fmt.Errorf("%s %s: HTTP %s", method, redact.URL(target), resp.Status)
	}
	return nil
}

// shortError is err on one line, without the entry's secrets.
func shortError(cm *config.Model, err error) string {
	key, _, _ := cm.ResolveAPIKey(nil)
	headers, _, _ := cm.ResolveHeaders(nil, key)
	secrets := append([]string{key}, redact.QuerySecrets(cm.BaseURL)...)
	for _, v := range headers {
		secrets = append(secrets, v)
	}
	msg := redact.New(secrets...).String(err.Error())
	msg = strings.Join(strings.Fields(msg), " ")
	if len(msg) > 160 {
		msg = msg[:157] + "..."
	}
	return msg
}

// writeCheckTable prints the rows and reports whether any shows a problem.
func writeCheckTable(w io.Writer, rows []checkRow) (failed bool) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tDEPLOYMENT\tADAPTER\tUPSTREAM\tKEY\tREACHABLE\tLATENCY\tERROR")
	for _, r := range rows {
		latency := "-"
		if r.latency > 0 {
			latency = r.latency.Round(time.Millisecond).String()
		}
		errText := r.err
		if errText == "" {
			errText = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.id, r.deployment, r.adapterType, r.upstream, r.key, r.reachable, latency, errText)
		if r.key == "no" || r.reachable != "yes" {
			failed = true
		}
	}
	tw.Flush() //nolint:errcheck // stdout
	if len(rows) == 0 {
		fmt.Fprintln(w, "no enabled models")
	}
	return failed
}
