package mockllm

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Gemini 3 checks thought signatures (see doc.go): a model whose name
// starts with "gemini-3" signs the first function call of each reply, and
// rejects a request whose current turn has a model step whose first
// functionCall lacks a signature, or carries one this server did not issue,
// with Gemini's own 400 messages.

// maxIssued bounds the signatures a Server remembers.
const maxIssued = 1000

// signatureSize is the length in bytes of the signatures the mock makes:
// Gemini's are opaque bytes, several hundred or more.
const signatureSize = 512

// skipsValidator reports whether sig is one of the two values Google
// documents for function calls that Gemini did not make, which pass the
// check (https://ai.google.dev/gemini-api/docs/thought-signatures).
func skipsValidator(sig string) bool {
	return sig == "skip_thought_signature_validator" || sig == "context_engineering_is_the_way_to_go"
}

// isGemini3 reports whether model validates thought signatures.
func isGemini3(model string) bool { return strings.HasPrefix(model, "gemini-3") }

// signatures remembers the last maxIssued thought signatures a Server sent.
// The zero value is ready to use; it is safe for concurrent use.
type signatures struct {
	mu   sync.Mutex
	set  map[string]bool
	ring []string // insertion order, to forget the oldest
	next int
}

func (s *signatures) add(sig string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.set == nil {
		s.set = make(map[string]bool)
	}
	if s.set[sig] {
		return
	}
	if len(s.ring) < maxIssued {
		s.ring = append(s.ring, sig)
	} else {
		delete(s.set, s.ring[s.next])
		s.ring[s.next] = sig
		s.next = (s.next + 1) % maxIssued
	}
	s.set[sig] = true
}

func (s *signatures) has(sig string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.set[sig]
}

// mockSignature is the signature the mock gives the reply to request seq:
// signatureSize opaque bytes in standard base64, as Gemini's JSON writes
// them, different for every request.
func mockSignature(seq int64) string {
	b := make([]byte, 0, signatureSize+sha256.Size)
	var block [16]byte
	binary.BigEndian.PutUint64(block[:8], uint64(seq))
	for i := uint64(0); len(b) < signatureSize; i++ {
		binary.BigEndian.PutUint64(block[8:], i)
		sum := sha256.Sum256(block[:])
		b = append(b, sum[:]...)
	}
	return base64.StdEncoding.EncodeToString(b[:signatureSize])
}

// checkSignatures answers a Gemini 3 request as Gemini does when a function
// call of the current turn is not signed as it must be, and reports
// whether it did. The current turn begins after the last user content with
// a part other than a functionResponse; in it, the first functionCall part
// of each model content must carry the signature this server issued for it.
func (c *call) checkSignatures(req *geminiRequest) bool {
	start := 0
	for i := len(req.Contents) - 1; i >= 0 && start == 0; i-- {
		if req.Contents[i].Role == "model" {
			continue
		}
		for _, p := range req.Contents[i].Parts {
			if p.FunctionResponse == nil {
				start = i + 1
				break
			}
		}
	}
	for i := start; i < len(req.Contents); i++ {
		gc := &req.Contents[i]
		if gc.Role != "model" {
			continue
		}
		for _, p := range gc.Parts {
			if p.FunctionCall == nil {
				continue
			}
			switch {
			case p.ThoughtSignature == "":
				c.fail(c.w, http.StatusBadRequest, apiError{Message: "Function call is missing a thought_signature in functionCall parts. " +
					"This is required for tools to work correctly, and missing thought_signature may lead to degraded model performance. " +
					"Additional data, function call `default_api:" + p.FunctionCall.Name + "` , position " + strconv.Itoa(i+1) +
					". Please refer to https://ai.google.dev/gemini-api/docs/thought-signatures for more details."})
				return true
			case !skipsValidator(p.ThoughtSignature) && !c.s.issued.has(p.ThoughtSignature):
				c.fail(c.w, http.StatusBadRequest, apiError{Message: "Corrupted thought signature."})
				return true
			}
			break // only the first call of a step is signed
		}
	}
	return false
}
