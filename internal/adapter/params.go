package adapter

import (
	"context"
	"log/slog"
	"unicode/utf8"
)

// CodeUnsupportedParameter is the one error code for a request that is valid
// OpenAI but asks for something this model cannot honour: a parameter it
// cannot carry, a value of one it does carry (parallel_tool_calls false for
// Gemini, a json_object response_format for Anthropic), content it cannot
// take (images for a text-only model). The error's param names the field.
// A value that is wrong for any model is invalid_value instead.
const CodeUnsupportedParameter = "unsupported_parameter"

// Unsupported handles, for one request, the request parameters that an
// adapter cannot carry to its upstream. By default each one is refused: a
// 400 unsupported_parameter naming it, never a silent drop. With Drop (the
// model entry's "drop_params": true, LiteLLM's name for the same switch)
// it is left out instead and its name recorded for LogDropped.
//
// Drop covers whole parameters only. A value the adapter cannot honour of
// a parameter it does carry (a response_format type, a temperature above
// Anthropic's range), and message content it cannot take (images, tool
// messages), stay errors.
//
// A nil *Unsupported refuses. It is not safe for concurrent use; make one
// per request.
type Unsupported struct {
	Drop    bool
	Dropped []string // the names left out, in the order met
}

// Refuse returns the 400 for param, or, when dropping, records param and
// returns nil.
func (u *Unsupported) Refuse(param, format string, args ...any) *Error {
	if u != nil && u.Drop {
		u.Dropped = append(u.Dropped, param)
		return nil
	}
	return BadRequest(param, CodeUnsupportedParameter, format, args...)
}

// LogDropped writes one debug line naming the dropped parameters, if any:
// their names only, never their values, which may hold anything a client
// sends. A nil log means slog.Default().
func (u *Unsupported) LogDropped(ctx context.Context, log *slog.Logger, model, requestID string) {
	if u == nil || len(u.Dropped) == 0 {
		return
	}
	if log == nil {
		log = slog.Default()
	}
	log.DebugContext(ctx, "dropped request parameters the model cannot carry (drop_params)",
		"model", model, "request_id", requestID, "params", u.Dropped)
}

// shortParam keeps a client-chosen field name short in messages and logs.
func shortParam(name string) string {
	const max = 64
	if len(name) <= max {
		return name
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(name[cut]) {
		cut--
	}
	return name[:cut] + "..."
}
