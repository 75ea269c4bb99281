package responses

import (
	"unsafe"

	"aigateway/internal/openai"
)

func appendJSONString(dst []byte, s string) []byte { return openai.AppendString(dst, s) }

// appendJSONBytes appends b as a JSON string without copying it into a
// string first: the escaper only reads it.
func appendJSONBytes(dst, b []byte) []byte {
	return openai.AppendString(dst, unsafe.String(unsafe.SliceData(b), len(b)))
}
