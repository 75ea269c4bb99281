// Package mockllm is a fake LLM upstream for tests and benchmarks. It speaks
// three wire formats on one handler, and can be scripted per request to
// inject faults:
//
//   - OpenAI: /v1/chat/completions, /v1/completions, /v1/embeddings,
//     /v1/responses (text, function_call, and custom_tool_call for a tool
//     the request declares as custom), GET /v1/models[/{id}];
//   - Anthropic Messages: /v1/messages (needs anthropic-version; max_tokens
//     required), /v1/messages/count_tokens; every response has a
//     request-id header;
//   - Google Gemini: /v1beta/models/{model}:generateContent,
//     :streamGenerateContent (SSE with ?alt=sse, else a JSON array),
//     :countTokens, :embedContent, :batchEmbedContents, and
//     GET /v1beta/models[/{model}].
//
// Errors use each protocol's own body shape, and [Options.APIKey] is
// checked the way each protocol sends it.
//
// In-process use:
//
//	srv := httptest.NewServer(mockllm.New(mockllm.Options{}))
//	defer srv.Close()
//
// # Default replies
//
// A reply has Options.Chunks content chunks (3 by default); chunk i is the
// word "w<i> ", so the full text is [ExpectedText](chunks). Usage is
// deterministic: prompt_tokens counts the whitespace-separated words of the
// prompt text (at least 1); completion_tokens counts the body chunks of the
// reply (content chunks, plus one header and one per argument fragment for each
// tool call).
//
// # Directives
//
// A request body may carry a "mock" object, decoded into [Directive], which
// scripts the response. The gateway passes unknown fields through, so tests
// can script the upstream through the gateway:
//
//	{"model": "m", "messages": [...], "mock": {"status": 503, "retry_after": "2"}}
//
// A translating adapter drops unknown fields, so the directive may also come
// as JSON in an X-Mock request header, on every protocol. The header, when
// present, replaces the body's "mock" object entirely.
//
// Steps happen in this order: delay_ms; hang (before headers); status /
// error_body (a complete error response); then the reply: the headers,
// pings_before_first keep-alives, then the events, paced by chunk_delay_ms
// (filled with a keep-alive every ping_every_ms) and Options.ChunkHook, cut
// by cut_after or frozen by hang_after_chunks. A keep-alive is each
// protocol's own: an SSE comment (": keep-alive") for OpenAI and Gemini
// (alt=sse only), an "event: ping" for Anthropic. [Options.Script] may rewrite the directive per request,
// for behaviour that depends on call order (fail the first attempt only).
//
// "Body chunks" are the stream events between the role chunk and the finish
// chunk: content chunks, then for each tool call a header chunk and its
// argument fragments. cut_after and hang_after_chunks count them, and
// ChunkHook and chunk delays apply before each one. Anthropic's are the
// same (text deltas, then per tool a content_block_start and its
// input_json_delta fragments); a cut past the end comes before
// message_delta. Gemini's are its text chunks plus one chunk holding all
// function calls; a cut past the end comes before the finishReason chunk.
//
// # Gemini 3 thought signatures
//
// A Gemini model whose name starts with "gemini-3" behaves as Gemini 3 does
// with thought signatures. It signs the first function call of each reply
// (with the directive's thought_signature, else with 512 opaque bytes of its
// own in base64, different for every request). It rejects, with Gemini's
// 400 INVALID_ARGUMENT messages, a request whose current turn (what follows
// the last user content with a part other than a functionResponse) has a
// model content whose first functionCall part lacks a thoughtSignature
// ("Function call is missing a thought_signature in functionCall parts.
// ...") or carries one the server did not issue, of the last 1000
// ("Corrupted thought signature."). The two values Google documents for
// calls Gemini did not make, "skip_thought_signature_validator" and
// "context_engineering_is_the_way_to_go", pass. Other models check nothing.
//
// # Adding protocols
//
// Each wire format lives in its own files (openai.go, anthropic*.go,
// gemini*.go) with its routes, auth check, request decoding, error shape
// and response encoding. The protocol-neutral parts —
// directives, reply planning, pacing, SSE writing, stats — live in script.go
// and server.go and are shared.
package mockllm
