// Package plan is the rdd engine's pure planner: given a lineage graph, the
// partitions an action wants, and what already exists (completed shuffle map
// outputs and cached partitions), it computes the stages that must run and
// the partitions each of them must compute.
//
// Stages are cut at shuffle dependencies; narrow dependencies are pipelined
// inside a stage. A cached partition stops the walk (its ancestors are not
// needed for it), and a shuffle whose map outputs all exist needs no stage.
// The analysis is per partition, so a result that needs only some partitions
// of a parent, or a shuffle that lost one map output, runs only the missing
// tasks.
//
// Plan is deterministic and does no I/O: the same inputs always give the same
// stages in the same order (parents before children).
package plan
