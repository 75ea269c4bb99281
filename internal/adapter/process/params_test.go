package process

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"testing"

	"aigateway/internal/adapter"
)

// samplingArgs pass every sampling placeholder to the "args" program.
func samplingArgs() []string {
	return []string{"--top-p", "{top_p}", "--seed", "{seed}", "--presence-penalty={presence_penalty}", "--frequency-penalty={frequency_penalty}"}
}

// top_p, seed and the penalties reach the program through their
// placeholders; without a client value top_p is 1 and the penalties 0 (the
// OpenAI defaults), and the seed a random one.
func TestSamplingPlaceholders(t *testing.T) {
	o := helperOptions(t, "args")
	o.Command = append(o.Command, samplingArgs()...)
	a := newAdapter(t, o)

	got := text(completion(t, a, body(false, `"top_p":0.9,"seed":42,"presence_penalty":-0.5,"frequency_penalty":1.25`, "user", "Hi")))
	if want := "--top-p|0.9|--seed|42|--presence-penalty=-0.5|--frequency-penalty=1.25|stdin=Hi"; got != want {
		t.Errorf("client values: got %q, want %q", got, want)
	}

	seeds := map[string]bool{}
	for range 3 {
		args := strings.Split(text(completion(t, a, body(false, "", "user", "Hi"))), "|")
		if len(args) != 7 || args[1] != "1" || args[4] != "--presence-penalty=0" || args[5] != "--frequency-penalty=0" {
			t.Fatalf("defaults: got %q", args)
		}
		seed, err := strconv.ParseInt(args[3], 10, 64)
		if err != nil || seed < 0 || seed >= 1<<31 {
			t.Errorf("default seed %q, want an integer in [0, 2^31)", args[3])
		}
		seeds[args[3]] = true
	}
	if len(seeds) == 1 {
		t.Errorf("three requests without a seed all got the seed %v", seeds)
	}
}

// A negative seed or penalty that begins an argument would be read as an
// option: refused, naming the parameter, as for the other placeholders.
func TestNegativeNumberThatWouldBeAnOption(t *testing.T) {
	o := helperOptions(t, "args")
	o.Command = append(o.Command, samplingArgs()...)
	a := newAdapter(t, o)
	_, err := send(context.Background(), a, body(false, `"seed":-1`, "user", "Hi"))
	if ae := wantError(t, err, http.StatusBadRequest, "invalid_value"); ae.Err.Param != "seed" || !strings.Contains(ae.Err.Message, "--opt={seed}") {
		t.Errorf("param %q, message %q", ae.Err.Param, ae.Err.Message)
	}

	o = helperOptions(t, "args")
	o.Command = append(o.Command, "--presence-penalty", "{presence_penalty}")
	a = newAdapter(t, o)
	_, err = send(context.Background(), a, body(false, `"presence_penalty":-1`, "user", "Hi"))
	if ae := wantError(t, err, http.StatusBadRequest, "invalid_value"); ae.Err.Param != "presence_penalty" {
		t.Errorf("param %q, message %q", ae.Err.Param, ae.Err.Message)
	}
}

// With drop_params, what the command cannot carry is left out, the program
// runs, and a debug line names the dropped parameters, never their values.
func TestDropParams(t *testing.T) {
	var logs strings.Builder
	o := helperOptions(t, "args")
	o.Command = append(o.Command, "--temp", "{temperature}")
	o.DropParams = true
	o.Logger = slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	a := newAdapter(t, o)
	resp, err := a.Send(context.Background(), &adapter.Request{Op: adapter.OpChat, RequestID: "req_abc", Body: body(false,
		`"temperature":0.5,"top_p":0.125,"seed":777777,"stop":["\n"],"n":3,"logprobs":true,"top_k":40`, "user", "Hi")})
	if err != nil {
		t.Fatal(err)
	}
	if got := string(resp.Body); !strings.Contains(got, `"content":"--temp|0.5|stdin=Hi"`) {
		t.Errorf("the program answered %s", got)
	}
	line := logs.String()
	for _, want := range []string{"level=DEBUG", "model=local", "request_id=req_abc", `params="[top_p stop seed n logprobs top_k]"`} {
		if !strings.Contains(line, want) {
			t.Errorf("log %q lacks %s", line, want)
		}
	}
	if strings.Contains(line, "777777") || strings.Contains(line, "0.125") {
		t.Errorf("the log shows a dropped value: %s", line)
	}

	// Without drop_params the same request is refused, naming the first.
	o.DropParams = false
	_, err = send(context.Background(), newAdapter(t, o), body(false, `"temperature":0.5,"top_p":0.125`, "user", "Hi"))
	if ae := wantError(t, err, http.StatusBadRequest, "unsupported_parameter"); ae.Err.Param != "top_p" ||
		!strings.Contains(ae.Err.Message, "its command has no {top_p} placeholder") {
		t.Errorf("param %q, message %q", ae.Err.Param, ae.Err.Message)
	}
}
