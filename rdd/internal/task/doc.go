// Package task defines what the rdd driver sends to an executor and what
// comes back: data only, no closures, so that a descriptor can cross a
// process (cluster mode) as well as a goroutine (local mode).
//
// A Desc names one attempt of one partition of one stage and points to the
// stage's Pipeline. The Pipeline is the driver's resolution of the stage's
// lineage, which is the truth for every executor: the Func invocation that
// builds the lineage (registry index and gob-encoded arguments), the local
// index of every dataset of the pipeline with its partition count, input
// splits and driver-computed value (zipWithIndex offsets, sort bounds), the
// shuffles it reads or writes by their driver ids, and the accumulators and
// broadcasts its Func arguments carry. An executor never lists files,
// counts slots or picks a default parallelism again: a file that appears
// later, or an executor with more slots, cannot change a running plan.
//
// Values are plain Go data (ints, strings, slices of records). In local mode
// they are shared with the driver as they are; a cluster executor's
// transport encodes them (the prepared values with the records' codecs).
package task
