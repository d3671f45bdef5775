#!/bin/bash
# A/B of the demo: an old build (D/groupby.old, D/meso.old) against a new
# one (D/groupby, D/meso), each on its own 2-agent meso dev (ports 26051,
# 26052), 3 rounds alternating, local[2] of each build too. The driver's
# CPU (user+sys) from /usr/bin/time; event logs in OUT/ev-*; the new
# build's driver profile (MESO_RDD_DRIVER_CPUPROFILE) and both builds'
# executor profiles in OUT/p-*.
#
#   git worktree add /tmp/old BASE && (cd /tmp/old && go build -o D/groupby.old ./examples/groupby && go build -o D/meso.old ./cmd/meso)
#   go build -o D/groupby ./examples/groupby && go build -o D/meso ./cmd/meso
#   scripts/rdd_results_ab.sh D OUT
set -u
D=$1 OUT=$2
rm -rf $OUT; mkdir -p $OUT
$D/meso.old dev --agents 2 --port 26051 > $OUT/dev-old.log 2>&1 & P1=$!
$D/meso dev --agents 2 --port 26052 > $OUT/dev-new.log 2>&1 & P2=$!
for p in 26051 26052; do for _ in $(seq 1 100); do curl -s "http://127.0.0.1:$p/master/state" | grep -q '"agents":\[{' && break; sleep 0.3; done; done
echo "load start: $(uptime)"
C="--conf spark.cores.max=2 --conf spark.executor.cores=1 --conf spark.executor.memory=1g"
for i in 1 2 3; do
  for b in old new; do
    bin=$D/groupby; port=26052; [ $b = old ] && bin=$D/groupby.old && port=26051
    /usr/bin/time -f "$b local wall %e cpu %U+%S" $bin --master 'local[2]' 2>&1 | tr '\r' '\n' | grep -E "wall|collected" | tr '\n' ' '; echo
    mkdir -p $OUT/p-$b-$i
    MESO_RDD_DRIVER_CPUPROFILE=$OUT/p-$b-$i /usr/bin/time -f "$b mesos wall %e cpu %U+%S" $bin --master mesos://127.0.0.1:$port --event-log $OUT/ev-$b-$i $C \
      --conf spark.executorEnv.MESO_RDD_EXECUTOR_CPUPROFILE=$OUT/p-$b-$i 2>&1 | tr '\r' '\n' | grep -E "wall|collected|checksum" | tr '\n' ' '; echo
  done
  echo "load: $(uptime)"
done
kill $P1 $P2; wait $P1 $P2
