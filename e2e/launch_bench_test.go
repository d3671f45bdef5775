package e2e

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"google.golang.org/protobuf/proto"

	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/resources"
)

// BenchmarkLaunchLatency measures, on a one-agent cluster of real
// processes, the time from sending ACCEPT with one no-op command task to
// receiving its TASK_RUNNING update, one launch at a time. Beside it,
// BareStart measures the cost of starting and reaping the same command
// (`/bin/sh -c true`) directly, and BareExecutor the cost of starting the
// meso binary (`meso executor` without the lean executor) and
// BareLeanExecutor of meso-executor (the command executor), so the overhead of the
// cluster path can be read off the same run. Reproduce with:
//
//	go test -run '^$' -bench LaunchLatency -benchtime 1000x ./e2e
func BenchmarkLaunchLatency(b *testing.B) {
	b.Run("AcceptToRunning", func(b *testing.B) {
		cl := newCluster(b, 1, "cpus:8;mem:8192;disk:1024", "--allocation_interval=10ms")
		f := newFramework(b, cl.master.addr, fwOptions{})
		need := resources.MustParse("cpus:0.01;mem:8")
		lat := make([]time.Duration, 0, b.N)
		b.ResetTimer()
		for i := range b.N {
			offer := f.takeOffer(need)
			id := fmt.Sprintf("noop-%d", i)
			task := &mesospb.TaskInfo{
				Name:      proto.String(id),
				TaskId:    &mesospb.TaskID{Value: proto.String(id)},
				AgentId:   offer.GetAgentId(),
				Resources: need.ToProto("*", false),
				Command:   &mesospb.CommandInfo{Value: proto.String("true")},
			}
			start := time.Now()
			err := f.client.Accept(context.Background(), []*mesospb.OfferID{offer.GetId()},
				[]*mesospb.Offer_Operation{{
					Type:   mesospb.Offer_Operation_LAUNCH.Enum(),
					Launch: &mesospb.Offer_Operation_Launch{TaskInfos: []*mesospb.TaskInfo{task}},
				}}, &mesospb.Filters{RefuseSeconds: proto.Float64(0)})
			if err != nil {
				b.Fatal(err)
			}
			f.waitState(id, mesospb.TaskState_TASK_RUNNING, time.Minute)
			lat = append(lat, time.Since(start))
		}
		b.StopTimer()
		reportPercentiles(b, lat)
	})
	b.Run("BareStart", func(b *testing.B) {
		benchStart(b, "/bin/sh", "-c", "true")
	})
	b.Run("BareExecutor", func(b *testing.B) {
		benchStart(b, mesoBin, "version")
	})
	b.Run("BareLeanExecutor", func(b *testing.B) {
		benchStart(b, filepath.Join(filepath.Dir(mesoBin), "meso-executor"), "version")
	})
}

// benchStart starts and reaps a process b.N times.
func benchStart(b *testing.B, name string, args ...string) {
	lat := make([]time.Duration, 0, b.N)
	for range b.N {
		start := time.Now()
		if err := exec.Command(name, args...).Run(); err != nil {
			b.Fatal(err)
		}
		lat = append(lat, time.Since(start))
	}
	reportPercentiles(b, lat)
}

func reportPercentiles(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	slices.Sort(lat)
	pct := func(p float64) float64 {
		return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000
	}
	b.ReportMetric(pct(0.50), "p50-ms")
	b.ReportMetric(pct(0.99), "p99-ms")
}

// takeOffer waits for an outstanding offer holding need and removes it
// from the framework's set.
func (f *framework) takeOffer(need resources.Resources) *mesospb.Offer {
	f.t.Helper()
	var offer *mesospb.Offer
	f.waitFor(time.Minute, "an offer", func() bool {
		for id, o := range f.offers {
			have, err := resources.FromProto(o.GetResources())
			if err == nil && have.Contains(need) {
				offer = o
				delete(f.offers, id)
				return true
			}
		}
		return false
	})
	return offer
}
