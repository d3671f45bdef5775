package registry

import (
	"context"
	"errors"
	"fmt"
	"net"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/registrypb"
	"google.golang.org/protobuf/proto"
)

// benchRegistry opens a single-voter registry in a temp dir (fsync on
// unless noSync) and waits for it to lead.
func benchRegistry(b *testing.B, noSync bool) *Registry {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	cfg := Config{Dir: b.TempDir(), Listener: ln, NoSync: noSync,
		HeartbeatTimeout: 100 * time.Millisecond, ElectionTimeout: 100 * time.Millisecond,
		LeaderLeaseTimeout: 50 * time.Millisecond}
	r, err := Open(cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { r.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for !r.IsLeader() || r.Barrier(ctx) != nil {
		select {
		case <-r.LeaderChanges():
		case <-ctx.Done():
			b.Fatal("no leader")
		}
	}
	return r
}

// benchAgent is an AgentInfo of the size a real agent sends (about 250
// bytes: resources and attributes).
func benchAgent(i int) *mesospb.AgentInfo {
	scalar := func(name string, v float64) *mesospb.Resource {
		return &mesospb.Resource{Name: proto.String(name), Type: mesospb.Value_SCALAR.Enum(),
			Scalar: &mesospb.Value_Scalar{Value: proto.Float64(v)}}
	}
	return &mesospb.AgentInfo{
		Id:       &mesospb.AgentID{Value: proto.String(fmt.Sprintf("c0ffee-S%d", i))},
		Hostname: proto.String(fmt.Sprintf("node%05d.rack%02d.example.com", i, i%40)),
		Port:     proto.Int32(5051),
		Resources: []*mesospb.Resource{scalar("cpus", 32), scalar("mem", 131072), scalar("disk", 1<<20),
			{Name: proto.String("ports"), Type: mesospb.Value_RANGES.Enum(), Ranges: &mesospb.Value_Ranges{
				Range: []*mesospb.Value_Range{{Begin: proto.Uint64(31000), End: proto.Uint64(32000)}}}}},
		Attributes: []*mesospb.Attribute{{Name: proto.String("rack"), Type: mesospb.Value_TEXT.Enum(),
			Text: &mesospb.Value_Text{Value: proto.String(fmt.Sprintf("r%02d", i%40))}}},
	}
}

// BenchmarkAdmitAgent: one proposer, one admission at a time, on a
// single voter with fsync: the latency of one registry write (ns/op, and
// p50/p99 of the individual writes).
func BenchmarkAdmitAgent(b *testing.B) {
	for _, noSync := range []bool{false, true} {
		b.Run(fmt.Sprintf("fsync=%v", !noSync), func(b *testing.B) {
			r := benchRegistry(b, noSync)
			ctx := context.Background()
			lat := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for i := range b.N {
				start := time.Now()
				if err := r.AdmitAgent(ctx, benchAgent(i)); err != nil {
					b.Fatal(err)
				}
				lat = append(lat, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(lat)
			b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
		})
	}
}

// BenchmarkAdmitAgentConcurrent: many proposers at once (raft batches
// their entries into shared fsyncs): admissions per second on a single
// voter with fsync.
func BenchmarkAdmitAgentConcurrent(b *testing.B) {
	for _, procs := range []int{16, 64, 256} {
		b.Run(fmt.Sprintf("proposers=%d", procs), func(b *testing.B) {
			r := benchRegistry(b, false)
			var next atomic.Int64
			b.SetParallelism(max(1, procs/max(1, testingProcs())))
			b.ResetTimer()
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if err := r.AdmitAgent(context.Background(), benchAgent(int(next.Add(1)))); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "admissions/s")
		})
	}
}

// testingProcs is GOMAXPROCS, by which RunParallel multiplies
// SetParallelism.
func testingProcs() int { return runtime.GOMAXPROCS(0) }

// BenchmarkAdmitAgentAt1000PerSecond: admissions arriving at 1,000/s
// (open loop: each starts on its tick whether or not earlier ones have
// committed), as agents rejoining after a master failover would; reports
// the latency of each write under that load.
func BenchmarkAdmitAgentAt1000PerSecond(b *testing.B) {
	r := benchRegistry(b, false)
	lat := make([]time.Duration, b.N)
	var wg sync.WaitGroup
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	b.ResetTimer()
	for i := range b.N {
		<-tick.C
		wg.Add(1)
		go func() {
			defer wg.Done()
			start := time.Now()
			if err := r.AdmitAgent(context.Background(), benchAgent(i)); err != nil {
				b.Error(err)
			}
			lat[i] = time.Since(start)
		}()
	}
	wg.Wait()
	b.StopTimer()
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds()), "p99-µs")
}

// BenchmarkAdmitAgentBatched: one proposer that persists 64 admissions
// per log entry (ProposeBatch), as the master core's loop would persist
// the writes of one step: admissions per second on a single voter with
// fsync.
func BenchmarkAdmitAgentBatched(b *testing.B) {
	r := benchRegistry(b, false)
	ctx := context.Background()
	batch := make([]*registrypb.Command, 0, 64)
	flush := func() {
		errs, err := r.ProposeBatch(ctx, batch)
		if err == nil {
			err = errors.Join(errs...)
		}
		if err != nil {
			b.Fatal(err)
		}
		batch = batch[:0]
	}
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		c, err := AdmitAgentCommand(benchAgent(i))
		if err != nil {
			b.Fatal(err)
		}
		if batch = append(batch, c); len(batch) == cap(batch) {
			flush()
		}
	}
	if len(batch) > 0 {
		flush()
	}
	b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "admissions/s")
}
