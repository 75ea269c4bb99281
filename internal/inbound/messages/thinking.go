package messages

import (
	"crypto/sha256"
	"encoding/base64"
	"hash"
	"strings"

	"aigateway/internal/adapter"
)

// Thinking blocks that the gateway makes from an OpenAI-compatible
// upstream's reasoning text (DeepSeek's, vLLM's and others'
// "reasoning_content") carry a signature of the gateway's own, so that the
// gateway recognises them when the client replays them:
//
//	"aigw1." + base64url(SHA-256(protocol byte, deployment label, 0, text))[:32]
//
// On the next turn a block whose signature matches the target's protocol,
// deployment and the block's text goes back as reasoning_content on its
// assistant message, to that deployment only (some servers reject
// reasoning_content they did not make, others need it back in tool turns).
// Every other thinking block, Anthropic's own signed ones included, is
// dropped for a non-Anthropic target: they mean nothing there. The hash is
// no secret and proves no authorship; it only routes the text back to where
// it came from, and catches a client that edited the text.
const signaturePrefix = "aigw1."

// redactedPrefix marks, in the Chat IR's reasoning_signature, the data of
// a redacted_thinking block; signatures of several blocks are separated by
// spaces (the Anthropic adapter's convention, README "Reasoning").
const redactedPrefix = "redacted:"

// addSignature adds one block's signature to a reasoning_signature.
func addSignature(b *strings.Builder, sig string) {
	if b.Len() > 0 {
		b.WriteByte(' ')
	}
	b.WriteString(sig)
}

// upstreamSignature is the signature a thinking block gets for the
// reasoning of target t: the upstream's own (reasoning_signature) when the
// target is Anthropic, whose signatures a client replays as they are;
// otherwise "" and the caller signs the block itself.
func upstreamSignature(t protocolDeployment, sig string) string {
	if t.upstream != adapter.ProtocolMessages {
		return ""
	}
	return sig
}

// signatureLen is how many base64 characters of the hash are kept (192
// bits).
const signatureLen = 32

// newSigner starts the hash of a thinking block for target t.
func newSigner(t protocolDeployment) hash.Hash {
	h := sha256.New()
	h.Write([]byte{byte(t.upstream)}) //nolint:errcheck // hash writes never fail
	h.Write([]byte(t.deployment))     //nolint:errcheck
	h.Write([]byte{0})                //nolint:errcheck
	return h
}

// protocolDeployment is the part of a target a signature binds to.
type protocolDeployment struct {
	upstream   adapter.Protocol
	deployment string
}

// finishSignature returns the signature of a hash that has the text.
func finishSignature(h hash.Hash) string {
	var sum [sha256.Size]byte
	enc := base64.RawURLEncoding.EncodeToString(h.Sum(sum[:0]))
	return signaturePrefix + enc[:signatureLen]
}

// signThinking returns the signature of text for the target.
func signThinking(t protocolDeployment, text string) string {
	h := newSigner(t)
	h.Write([]byte(text)) //nolint:errcheck
	return finishSignature(h)
}

// replayable reports whether a thinking block with text and signature was
// made by the gateway from target t's reasoning_content.
func replayable(t protocolDeployment, text, signature string) bool {
	return t.upstream == adapter.ProtocolChat && strings.HasPrefix(signature, signaturePrefix) &&
		signature == signThinking(t, text)
}
