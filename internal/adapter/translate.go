package adapter

import "aigateway/internal/sse"

// Translator turns one provider's stream into OpenAI chunk payloads. It is
// created per request and is not safe for concurrent use. The stream that
// drives it (NewTranslatedStream) owns reading, timeouts and cancellation;
// the Translator only converts.
type Translator interface {
	// Event handles one upstream SSE event (never a comment). An in-band
	// upstream error is returned as an *Error whose Err is what the client
	// sees.
	Event(ev sse.Event) (Output, error)
	// End is called when the upstream closed the stream without Event
	// reporting done. It returns the last chunks if that is a proper end for
	// the protocol (Gemini ends at EOF after a finishReason), or an *Error
	// when the stream was cut short.
	End() (chunks [][]byte, err error)
	// Usage returns the usage known so far.
	Usage() Usage
}

// Output is what a Translator made of one upstream event.
type Output struct {
	// Chunks are the OpenAI chunk payloads (JSON, without "data: ") the
	// event yields, possibly none.
	Chunks [][]byte
	// Done reports that the upstream ended the stream properly (Anthropic
	// message_stop); Chunks are still sent.
	Done bool
	// Alive reports that an event without Chunks still shows the upstream
	// at work (a ping, a thinking delta, an event type the Translator does
	// not know): the stream sends the client a keep-alive comment for it,
	// which also ends the hold-back for retries. Leave it false for an
	// event whose meaning is not known yet (one that the next call will
	// judge), so that it cannot start a stream that may still fail over.
	Alive bool
}
