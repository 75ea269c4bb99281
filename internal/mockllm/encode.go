package mockllm

import (
	"strconv"

	"aigateway/internal/openai"
)

// appendNullable appends s as a JSON string, or null when s is empty.
func appendNullable(dst []byte, s string) []byte {
	if s == "" {
		return append(dst, "null"...)
	}
	return openai.AppendString(dst, s)
}

func appendInt(dst []byte, n int64) []byte {
	return strconv.AppendInt(dst, n, 10)
}
