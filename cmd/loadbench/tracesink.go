package main

import (
	"io"
	"net"
	"net/http"
	"sync/atomic"
)

// traceSink is an OTLP/HTTP trace receiver that reads and discards every
// export and answers with an empty ExportTraceServiceResponse (an empty
// protobuf message is zero bytes). It runs in loadbench's process, so its
// CPU is not counted as the gateway's.
type traceSink struct {
	ln             net.Listener
	exports, bytes atomic.Int64
}

func startTraceSink() (*traceSink, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	s := &traceSink{ln: ln}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, _ := io.Copy(io.Discard, r.Body)
		s.exports.Add(1)
		s.bytes.Add(n)
		w.Header().Set("Content-Type", "application/x-protobuf")
		w.WriteHeader(http.StatusOK)
	})}
	go srv.Serve(ln) //nolint:errcheck // ends when the listener closes
	return s, nil
}

// url is the OTEL_EXPORTER_OTLP_ENDPOINT of the sink.
func (s *traceSink) url() string { return "http://" + s.ln.Addr().String() }

func (s *traceSink) Close() error { return s.ln.Close() }
