#!/bin/bash
# The demo on a 2-agent meso dev cluster (2 executors x 1 core), A/B/C in
# one run: local[2]; cluster with groupby built at a base commit; cluster
# with this build; this build with spark.shuffle.readHostLocalDisk=false.
# 3 rounds alternating; event logs per variant in OUT/ev-*.
#
#   go build -o DIR/meso ./cmd/meso && go build -o DIR/groupby.new ./examples/groupby
#   git worktree add /tmp/base BASE && (cd /tmp/base && go build -o DIR/groupby.base ./examples/groupby)
#   scripts/rdd_hostlocal_bench.sh DIR OUT
set -u
DIR=$1 OUT=$2
PORT=${PORT:-25150}
rm -rf "$OUT"; mkdir -p "$OUT"
"$DIR/meso" dev --agents 2 --port "$PORT" > "$OUT/dev.log" 2>&1 &
DEV=$!
for _ in $(seq 1 100); do curl -s "http://127.0.0.1:$PORT/master/state" | grep -q '"agents":\[{' && break; sleep 0.3; done
echo "load before: $(uptime)"
C="--conf spark.cores.max=2 --conf spark.executor.cores=1 --conf spark.executor.memory=1g"
M="mesos://127.0.0.1:$PORT"
for _ in 1 2 3; do
  /usr/bin/time -f "local[2] %e s" "$DIR/groupby.base" --master 'local[2]' 2>&1 | grep -E "^local|collected"
  /usr/bin/time -f "base %e s" "$DIR/groupby.base" --master "$M" --event-log "$OUT/ev-base" $C 2>&1 | tr '\r' '\n' | grep -E "^base|collected"
  /usr/bin/time -f "new %e s" "$DIR/groupby.new" --master "$M" --event-log "$OUT/ev-new" $C 2>&1 | tr '\r' '\n' | grep -E "^new|collected"
  /usr/bin/time -f "off %e s" "$DIR/groupby.new" --master "$M" --event-log "$OUT/ev-off" $C \
    --conf spark.shuffle.readHostLocalDisk=false 2>&1 | tr '\r' '\n' | grep -E "^off|collected"
  echo "load: $(uptime)"
done
kill $DEV; wait $DEV
