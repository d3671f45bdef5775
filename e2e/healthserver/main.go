// Command healthserver is a tiny HTTP server for the end-to-end tests of
// health checks: it serves 200 on every path at 127.0.0.1:--port for as
// long as the file --while exists (relative paths are in the working
// directory, the task's sandbox), then stops answering: it closes its
// listener, so later connections are refused, and waits to be killed.
package main

import (
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"time"
)

func main() {
	port := flag.Int("port", 0, "port to listen on (127.0.0.1)")
	while := flag.String("while", "serving", "serve while this file exists")
	flag.Parse()
	if err := os.WriteFile(*while, nil, 0o644); err != nil {
		fail(err)
	}
	ln, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", *port))
	if err != nil {
		fail(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, "ok")
	})}
	go func() { _ = srv.Serve(ln) }()
	fmt.Println("serving on", ln.Addr())
	for {
		if _, err := os.Stat(*while); err != nil {
			break
		}
		time.Sleep(20 * time.Millisecond) // a test removes the file; nothing to wake us
	}
	_ = srv.Close()
	fmt.Println("stopped answering")
	for {
		time.Sleep(time.Hour) // until the executor kills us
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "healthserver:", err)
	os.Exit(1)
}
