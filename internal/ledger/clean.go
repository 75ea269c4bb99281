package ledger

import (
	"math"
	"strings"
	"unicode/utf8"
)

// maxFieldBytes caps every text column. The model name comes from the client
// and the gateway records rejected requests too, so a hostile client must not
// be able to grow the ledger by megabytes per request.
const maxFieldBytes = 256

// cleanText makes s storable everywhere: valid UTF-8 without NUL bytes
// (PostgreSQL refuses both in text columns, and one bad row would fail its
// whole batch forever) and at most maxFieldBytes long. The common case
// returns s unchanged without allocating.
func cleanText(s string) string {
	if len(s) <= maxFieldBytes && utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	s = strings.ToValidUTF8(s, "\uFFFD")
	s = strings.ReplaceAll(s, "\x00", "")
	if len(s) > maxFieldBytes {
		cut := maxFieldBytes
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

// cleanFloat turns NaN and infinities into 0: SQLite stores NaN as NULL, and
// one such value would make every SUM over it meaningless.
func cleanFloat(f float64) float64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	return f
}

// roundSum rounds a summed cost to 1e-12 USD (far below any token's
// price): the sum of many float costs picks up binary
// noise that would print as 0.0008869500000000001.
func roundSum(usd float64) float64 {
	return math.Round(usd*1e12) / 1e12
}
