package adapter

import "aigateway/internal/sse"

// Translator turns one provider's stream into OpenAI chunk payloads. It is
// created per request and is not safe for concurrent use. The stream that
// drives it (NewTranslatedStream) owns reading, timeouts and cancellation;
// the Translator only converts.
type Translator interface {
	// Event handles one upstream SSE event and returns the OpenAI chunk
	// payloads (JSON, without "data: ") it yields, possibly none. done reports
	// that the upstream ended the stream properly (Anthropic message_stop);
	// chunks returned with done=true are still sent. An in-band upstream error
	// is returned as an *Error whose Err is what the client sees.
	Event(ev sse.Event) (chunks [][]byte, done bool, err error)
	// End is called when the upstream closed the stream without Event
	// reporting done. It returns the last chunks if that is a proper end for
	// the protocol (Gemini ends at EOF after a finishReason), or an *Error
	// when the stream was cut short.
	End() (chunks [][]byte, err error)
	// Usage returns the usage known so far.
	Usage() Usage
}
