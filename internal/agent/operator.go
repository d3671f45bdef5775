package agent

import (
	"context"
	"net/http"
	"time"

	"github.com/mesoproject/meso/api/agentpb"
	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/internal/files"
	"github.com/mesoproject/meso/internal/operator"
	"github.com/mesoproject/meso/internal/present"
	"google.golang.org/protobuf/proto"
)

// notBuilt says why the agent answers a call 501.
var notBuilt = map[agentpb.Call_Type]string{
	agentpb.Call_GET_RESOURCE_PROVIDERS:          "resource providers are not built",
	agentpb.Call_LAUNCH_NESTED_CONTAINER:         "nested containers are not built",
	agentpb.Call_WAIT_NESTED_CONTAINER:           "nested containers are not built",
	agentpb.Call_KILL_NESTED_CONTAINER:           "nested containers are not built",
	agentpb.Call_REMOVE_NESTED_CONTAINER:         "nested containers are not built",
	agentpb.Call_LAUNCH_NESTED_CONTAINER_SESSION: "nested containers are not built",
	agentpb.Call_ATTACH_CONTAINER_INPUT:          "attaching to containers is not built",
	agentpb.Call_ATTACH_CONTAINER_OUTPUT:         "attaching to containers is not built",
	agentpb.Call_LAUNCH_CONTAINER:                "standalone and nested containers are not built",
	agentpb.Call_WAIT_CONTAINER:                  "standalone and nested containers are not built",
	agentpb.Call_KILL_CONTAINER:                  "standalone and nested containers are not built",
	agentpb.Call_REMOVE_CONTAINER:                "standalone and nested containers are not built",
	agentpb.Call_ADD_RESOURCE_PROVIDER_CONFIG:    "resource providers are not built",
	agentpb.Call_UPDATE_RESOURCE_PROVIDER_CONFIG: "resource providers are not built",
	agentpb.Call_REMOVE_RESOURCE_PROVIDER_CONFIG: "resource providers are not built",
	agentpb.Call_MARK_RESOURCE_PROVIDER_GONE:     "resource providers are not built",
	agentpb.Call_PRUNE_IMAGES:                    "image pruning is not built",
}

// serveOperator is POST /api/v1, the agent's v1 operator API: 200 with a
// Response in the negotiated codec, 400 for a malformed call, 501 for the
// container and resource provider calls meso does not implement.
func (a *Agent) serveOperator(w http.ResponseWriter, r *http.Request) {
	call := &agentpb.Call{}
	out, ok := operator.ReadCall(w, r, a.bounds, operator.DefaultMaxCallBytes, call)
	if !ok {
		return
	}
	typ := call.GetType()
	if why, ok := notBuilt[typ]; ok {
		operator.NotImplemented(w, typ, why)
		return
	}
	resp := &agentpb.Response{}
	switch typ {
	case agentpb.Call_GET_HEALTH:
		resp.GetHealth = &agentpb.Response_GetHealth{Healthy: proto.Bool(true)}
	case agentpb.Call_GET_FLAGS:
		resp.GetFlags = &agentpb.Response_GetFlags{Flags: operator.Flags(a.flags())}
	case agentpb.Call_GET_VERSION:
		resp.GetVersion = &agentpb.Response_GetVersion{VersionInfo: operator.VersionInfo(Version)}
	case agentpb.Call_GET_METRICS:
		a.mu.Lock()
		m := a.metricsLocked()
		a.mu.Unlock()
		resp.GetMetrics = &agentpb.Response_GetMetrics{Metrics: operator.Metrics(m)}
	case agentpb.Call_GET_LOGGING_LEVEL:
		resp.GetLoggingLevel = &agentpb.Response_GetLoggingLevel{Level: proto.Uint32(a.logLevel.Verbosity())}
	case agentpb.Call_SET_LOGGING_LEVEL:
		a.setLoggingLevel(w, call)
		return
	case agentpb.Call_LIST_FILES, agentpb.Call_READ_FILE:
		a.operatorFiles(r.Context(), w, out, call)
		return
	case agentpb.Call_GET_STATE:
		resp.GetState = present.AgentGetState(a.view())
	case agentpb.Call_GET_FRAMEWORKS:
		resp.GetFrameworks = present.AgentGetFrameworks(a.view())
	case agentpb.Call_GET_EXECUTORS:
		resp.GetExecutors = present.AgentGetExecutors(a.view())
	case agentpb.Call_GET_TASKS:
		resp.GetTasks = present.AgentGetTasks(a.view())
	case agentpb.Call_GET_CONTAINERS:
		resp.GetContainers = a.getContainers(r.Context())
	case agentpb.Call_GET_AGENT:
		resp.GetAgent = &agentpb.Response_GetAgent{AgentInfo: a.agentInfo()}
	case agentpb.Call_GET_OPERATIONS:
		// The master applies the conversions and sends the agent their
		// result (CHECKPOINT_RESOURCES); the agent tracks none pending.
		resp.GetOperations = &agentpb.Response_GetOperations{}
	default:
		operator.NotImplemented(w, typ, "meso does not know this call")
		return
	}
	resp.Type = agentpb.Response_Type(agentpb.Response_Type_value[typ.String()]).Enum()
	operator.Respond(w, out, resp)
}

func (a *Agent) view() present.AgentView {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.viewLocked()
}

// agentInfo is this agent's AgentInfo, with its id once registered.
func (a *Agent) agentInfo() *mesospb.AgentInfo {
	a.mu.Lock()
	defer a.mu.Unlock()
	info := a.totalInfoLocked()
	if id := a.core.Snapshot().AgentID; id != "" {
		info.Id = &mesospb.AgentID{Value: proto.String(id)}
	}
	return info
}

func (a *Agent) setLoggingLevel(w http.ResponseWriter, call *agentpb.Call) {
	if !operator.RequirePayload(w, call, "set_logging_level") {
		return
	}
	s := call.GetSetLoggingLevel()
	d := time.Duration(s.GetDuration().GetNanoseconds())
	if err := a.logLevel.Set(s.GetLevel(), d); err != nil {
		operator.Error(w, http.StatusBadRequest, err.Error())
		return
	}
	a.log.Info("logging level changed", "verbosity", s.GetLevel(), "for", d)
	w.WriteHeader(http.StatusOK)
}

// operatorFiles answers LIST_FILES and READ_FILE through the files API's
// rules (paths inside the sandboxes, regular files only, reads bounded).
func (a *Agent) operatorFiles(ctx context.Context, w http.ResponseWriter, out codec.Codec, call *agentpb.Call) {
	if call.GetType() == agentpb.Call_LIST_FILES {
		if !operator.RequirePayload(w, call, "list_files") {
			return
		}
		h, err := a.filesFor(ctx, call.GetListFiles().GetPath())
		if err != nil {
			operator.Error(w, http.StatusForbidden, err.Error())
			return
		}
		list, err := h.List(ctx, call.GetListFiles().GetPath())
		if err != nil {
			operator.Error(w, files.Status(err), err.Error())
			return
		}
		lf := &agentpb.Response_ListFiles{}
		for _, fi := range list {
			lf.FileInfos = append(lf.FileInfos, &mesospb.FileInfo{
				Path: proto.String(fi.Path), Nlink: proto.Int32(int32(fi.NLink)), Size: proto.Uint64(uint64(fi.Size)),
				Mtime: &mesospb.TimeInfo{Nanoseconds: proto.Int64(fi.MTimeNanos)}, Mode: proto.Uint32(fi.StMode),
				Uid: proto.String(fi.UID), Gid: proto.String(fi.GID),
			})
		}
		operator.Respond(w, out, &agentpb.Response{Type: agentpb.Response_LIST_FILES.Enum(), ListFiles: lf})
		return
	}
	if !operator.RequirePayload(w, call, "read_file") {
		return
	}
	rf := call.GetReadFile()
	length := int64(-1)
	if rf.Length != nil {
		length = int64(min(rf.GetLength(), 1<<62))
	}
	h, err := a.filesFor(ctx, rf.GetPath())
	if err != nil {
		operator.Error(w, http.StatusForbidden, err.Error())
		return
	}
	data, size, err := h.Read(ctx, rf.GetPath(), int64(min(rf.GetOffset(), 1<<62)), length)
	if err != nil {
		operator.Error(w, files.Status(err), err.Error())
		return
	}
	if data == nil {
		data = []byte{}
	}
	operator.Respond(w, out, &agentpb.Response{Type: agentpb.Response_READ_FILE.Enum(),
		ReadFile: &agentpb.Response_ReadFile{Size: proto.Uint64(uint64(size)), Data: data}})
}

// getContainers lists the running executors' containers with their
// resource usage when the containerizer can tell it.
func (a *Agent) getContainers(ctx context.Context) *agentpb.Response_GetContainers {
	ctx, cancel := context.WithTimeout(ctx, statisticsTimeout)
	defer cancel()
	out := &agentpb.Response_GetContainers{}
	for _, m := range a.runningContainers() {
		c := &agentpb.Response_GetContainers_Container{
			FrameworkId:  &mesospb.FrameworkID{Value: proto.String(m.frameworkID)},
			ExecutorId:   &mesospb.ExecutorID{Value: proto.String(m.executorID)},
			ExecutorName: proto.String(m.name),
			ContainerId:  &mesospb.ContainerID{Value: proto.String(m.containerID)},
		}
		if u, err := a.usage(ctx, m); err == nil {
			c.ResourceStatistics = u.Statistics()
		}
		out.Containers = append(out.Containers, c)
	}
	return out
}
