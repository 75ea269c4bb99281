package adapter

import "context"

// traceParentKey is the context key of WithTraceParent.
type traceParentKey struct{}

// WithTraceParent returns ctx carrying a W3C traceparent for adapters that
// cannot take it from an HTTP header: a local program gets it as its
// TRACEPARENT environment variable. HTTP adapters need nothing: the
// gateway's transport writes the header from the context's span.
func WithTraceParent(ctx context.Context, traceparent string) context.Context {
	return context.WithValue(ctx, traceParentKey{}, traceparent)
}

// TraceParent is the traceparent WithTraceParent put in ctx, or "".
func TraceParent(ctx context.Context) string {
	tp, _ := ctx.Value(traceParentKey{}).(string)
	return tp
}
