package master

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/schedulerpb"
	"github.com/mesoproject/meso/scheduler"
	"google.golang.org/protobuf/proto"
)

// BenchmarkAcknowledge measures the round trip of one ACKNOWLEDGE from a
// scheduler.Client to a real master on loopback: encoding, the HTTP
// request on a kept-alive connection, the master's decode, checks and hop
// onto its loop, and the 202. The acknowledged agent is unknown to the
// master (the core drops the acknowledgement after its lookups), so
// what is measured is the call path, not an agent link. "parallel" sends
// from GOMAXPROCS*4 goroutines through one client, as a framework with
// many call workers does; conns/op counts the TCP connections the master
// opened per call (near 0 when keep-alive connections are reused).
// "h2c" puts the calls on HTTP/2 without TLS (--http2_cleartext), all on
// one connection.
func BenchmarkAcknowledge(b *testing.B) {
	for _, cdc := range []codec.Codec{codec.Protobuf, codec.JSON} {
		for _, parallel := range []bool{false, true} {
			name := cdc.MediaType()
			if parallel {
				name += "/parallel"
			}
			b.Run(name, func(b *testing.B) { benchAcknowledge(b, cdc, parallel, false) })
		}
	}
	for _, parallel := range []bool{false, true} {
		name := "h2c/" + codec.Protobuf.MediaType()
		if parallel {
			name += "/parallel"
		}
		b.Run(name, func(b *testing.B) { benchAcknowledge(b, codec.Protobuf, parallel, true) })
	}
}

func benchAcknowledge(b *testing.B, cdc codec.Codec, parallel, h2c bool) {
	var conns atomic.Int64
	_, base := startMaster(b, func(cfg *Config) { cfg.HTTP.HTTP2Cleartext = h2c })
	var hc *http.Client
	if h2c {
		tr := &http.Transport{Protocols: new(http.Protocols)}
		tr.Protocols.SetUnencryptedHTTP2(true)
		hc = &http.Client{Transport: tr}
	}
	c, stop := subscribedBench(scheduler.Config{Master: base, Codec: cdc, HTTPClient: hc})
	defer stop()
	status := &mesospb.TaskStatus{
		TaskId:  &mesospb.TaskID{Value: proto.String("task-1")},
		AgentId: &mesospb.AgentID{Value: proto.String("no-such-agent")},
		State:   mesospb.TaskState_TASK_RUNNING.Enum(),
		Uuid:    make([]byte, 16),
	}
	callCtx := httptrace.WithClientTrace(context.Background(), &httptrace.ClientTrace{GotConn: func(i httptrace.GotConnInfo) {
		if !i.Reused {
			conns.Add(1)
		}
	}})
	ack := func() {
		if err := c.Acknowledge(callCtx, status); err != nil {
			b.Fatal(err)
		}
	}
	ack() // the first call's connection
	start := conns.Load()
	b.ReportAllocs()
	b.ResetTimer()
	if parallel {
		b.SetParallelism(4)
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				ack()
			}
		})
	} else {
		for range b.N {
			ack()
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(conns.Load()-start)/float64(b.N), "conns/op")
}

// BenchmarkAcknowledgePipelined sends the same ACKNOWLEDGE as
// BenchmarkAcknowledge over HTTP/1.1 pipelining: a raw connection, depth
// requests written at once, then their depth answers read in order. No
// client in this repository pipelines (net/http's cannot); this measures
// what a pipelining scheduler client would leave of a call's cost, the
// master's part mostly (the client here is a few lines).
func BenchmarkAcknowledgePipelined(b *testing.B) {
	const depth = 16
	_, base := startMaster(b)
	c, stop := subscribedBench(scheduler.Config{Master: base})
	defer stop()
	body, err := proto.Marshal(&schedulerpb.Call{
		Type:        schedulerpb.Call_ACKNOWLEDGE.Enum(),
		FrameworkId: c.FrameworkID(),
		Acknowledge: &schedulerpb.Call_Acknowledge{
			AgentId: &mesospb.AgentID{Value: proto.String("no-such-agent")},
			TaskId:  &mesospb.TaskID{Value: proto.String("task-1")},
			Uuid:    make([]byte, 16),
		},
	})
	if err != nil {
		b.Fatal(err)
	}
	host := strings.TrimPrefix(base, "http://")
	req := fmt.Appendf(nil, "POST /api/v1/scheduler HTTP/1.1\r\nHost: %s\r\nContent-Type: application/x-protobuf\r\n"+
		"Accept: application/x-protobuf\r\nMesos-Stream-Id: %s\r\nContent-Length: %d\r\n\r\n", host, c.StreamID(), len(body))
	req = append(req, body...)
	batch := bytes.Repeat(req, depth)
	conn, err := net.Dial("tcp", host)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	br := bufio.NewReader(conn)
	round := func(n int) {
		if _, err := conn.Write(batch[:n*len(req)]); err != nil {
			b.Fatal(err)
		}
		for range n {
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				b.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusAccepted {
				b.Fatalf("answered %s", resp.Status)
			}
		}
	}
	round(1)
	b.ReportAllocs()
	b.ResetTimer()
	for left := b.N; left > 0; left -= depth {
		round(min(left, depth))
	}
}

// subscribedBench runs a scheduler client of a framework named "bench" on
// cfg until it is SUBSCRIBED; stop ends it.
func subscribedBench(cfg scheduler.Config) (c *scheduler.Client, stop func()) {
	cfg.Framework = &mesospb.FrameworkInfo{User: proto.String("bench"), Name: proto.String("bench")}
	c = scheduler.New(cfg)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()
	for ev := range c.Events() {
		if ev.GetType() == schedulerpb.Event_SUBSCRIBED {
			break
		}
	}
	return c, func() { cancel(); <-done }
}
