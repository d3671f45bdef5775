package e2e

import (
	"os"
	"strings"
	"testing"
	"time"
)

// BenchmarkRDDFineVsCoarse runs the seed demo (groupby) on one 3-agent
// cluster (3 cpus each) in coarse-grained mode (3 executors of 2 cores,
// spark.cores.max=6) and in fine-grained mode (one Mesos executor of 1 cpu
// per agent, each rdd task a Mesos task of 1 cpu: 6 tasks at once too),
// b.N runs each, in the same process so the load is the same. Each run
// includes starting the executors. The size is 1,000,000 integers in 100
// partitions, or MESO_BENCH_DEMO=10000000/500 for the talk's. Reproduce
// with:
//
//	go test -run '^$' -bench RDDFineVsCoarse -benchtime 3x ./e2e
func BenchmarkRDDFineVsCoarse(b *testing.B) {
	n, parts := "1000000", "100"
	if v := os.Getenv("MESO_BENCH_DEMO"); v != "" {
		var ok bool
		if n, parts, ok = strings.Cut(v, "/"); !ok {
			b.Fatalf("MESO_BENCH_DEMO=%q: want N/PARTS", v)
		}
	}
	bin := buildExample(b, "groupby")
	c := newCluster(b, 3, "cpus:3;mem:4096;disk:4096;ports:[31000-32000]", masterFlags...)
	modes := []struct {
		name string
		args []string
	}{
		{"coarse", []string{"--conf", "spark.cores.max=6", "--conf", "spark.executor.cores=2"}},
		{"fine", []string{"--conf", "spark.mesos.coarse=false", "--conf", "spark.cores.max=6"}},
	}
	for _, m := range modes {
		b.Run(m.name, func(b *testing.B) {
			args := append([]string{"--n", n, "--parts", parts, "--master", "mesos://" + c.master.addr,
				"--conf", "spark.executor.memory=512m"}, m.args...)
			var sum time.Duration
			for b.Loop() {
				start := time.Now()
				if out, err := runProgram(b, 10*time.Minute, bin, args...); err != nil {
					b.Fatalf("%s run: %v\n%s", m.name, err, out)
				}
				sum += time.Since(start)
			}
			b.ReportMetric(sum.Seconds()/float64(b.N), "s/run")
		})
	}
}
