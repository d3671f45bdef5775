package api

// Regenerate the Go code for the .proto files under proto/ with
// `go generate ./api/...` (or `make generate`). Needs protoc on PATH; the
// protoc-gen-go plugin is built from the version pinned in go.mod, so the
// output depends only on that version and on protoc's.
//
//go:generate go build -o ../bin/protoc-gen-go google.golang.org/protobuf/cmd/protoc-gen-go
//go:generate protoc -I proto --plugin=protoc-gen-go=../bin/protoc-gen-go --go_out=.. --go_opt=module=github.com/mesoproject/meso mesos/v1/mesos.proto mesos/v1/scheduler/scheduler.proto mesos/v1/executor/executor.proto mesos/v1/master/master.proto mesos/v1/agent/agent.proto mesos/v1/quota/quota.proto mesos/v1/maintenance/maintenance.proto meso/link/v1/link.proto meso/registry/v1/registry.proto
//go:generate go build -o ../bin/protoc-gen-connect-go connectrpc.com/connect/cmd/protoc-gen-connect-go
//go:generate protoc -I proto --plugin=protoc-gen-go=../bin/protoc-gen-go --plugin=protoc-gen-connect-go=../bin/protoc-gen-connect-go --go_out=.. --go_opt=module=github.com/mesoproject/meso --connect-go_out=.. --connect-go_opt=module=github.com/mesoproject/meso meso/rdd/v1/rdd.proto
