// Package resources models Mesos resources and agent attributes in plain Go,
// independent of protobuf, with exact and fast arithmetic.
//
// A Resources value is a normalized, immutable list of Resource entries:
// sorted by (name, role, kind), at most one entry per key, and no empty
// entries. Every operation (Add, Subtract, Intersect, the filters) returns a
// new value and never modifies its inputs, so values may be shared freely,
// including between goroutines, and a slice handed out once stays valid.
//
// Kinds follow Mesos' Value types:
//
//   - scalars (cpus, mem, disk, gpus, custom) are fixed-point numbers with
//     three decimal places, the way Mesos' Value::Scalar arithmetic rounds, so
//     0.1+0.2 == 0.3 exactly;
//   - ranges (ports) are sorted, coalesced inclusive intervals of uint64;
//   - sets are sorted lists of unique strings.
//
// Every entry carries a reservation role: "*" means unreserved, and
// "cpus(web):2" is statically reserved to the role web. Roles may be
// hierarchical ("eng/web"); resources reserved to a role are allocatable to
// it and to its descendants.
//
// Parse reads the agent flag syntax (--resources="cpus:4;mem:8192;
// ports:[31000-32000];cpus(web):2;zones:{a,b}") and the JSON array form Mesos
// also accepts; ParseAttributes reads --attributes="rack:r1;level:3". Parse
// errors wrap ErrParse and name the offending token.
//
// FromProto and ToProto convert to and from the mesos.v1.Resource wire type
// (package api/mesospb), reading every Mesos reservation format and writing
// the "endpoint" format (role field and reservations stack, consistent),
// with allocation_info only for MULTI_ROLE frameworks.
//
// Scalars are the only kind that count towards dominant-resource-fairness
// shares; Quantities (name -> amount, where ranges and sets count their
// elements) express thresholds such as --min_allocatable_resources.
package resources
