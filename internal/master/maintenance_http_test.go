package master

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/linkpb"
)

// maintenanceACLs let ops, and no one else, use every maintenance call.
const maintenanceACLs = `{
  "update_maintenance_schedules": [{"principals": {"values": ["ops"]}, "machines": {"type": "ANY"}},
                                   {"principals": {"type": "ANY"}, "machines": {"type": "NONE"}}],
  "get_maintenance_schedules": [{"principals": {"values": ["ops"]}, "machines": {"type": "ANY"}},
                                {"principals": {"type": "ANY"}, "machines": {"type": "NONE"}}],
  "start_maintenances": [{"principals": {"values": ["ops"]}, "machines": {"type": "ANY"}},
                         {"principals": {"type": "ANY"}, "machines": {"type": "NONE"}}],
  "stop_maintenances": [{"principals": {"values": ["ops"]}, "machines": {"type": "ANY"}},
                        {"principals": {"type": "ANY"}, "machines": {"type": "NONE"}}],
  "get_maintenance_statuses": [{"principals": {"values": ["ops"]}, "machines": {"type": "ANY"}},
                               {"principals": {"type": "ANY"}, "machines": {"type": "NONE"}}]
}`

// TestMaintenanceEndpoints drives the older maintenance endpoints over real
// HTTP as Mesos' tools do: schedule a machine named by hostname and IP
// (it matches the agent on host1), read the schedule and the status, bring
// it down (the agent is shut down) and up again. Bad input is 4xx with a
// message; eve, whom the ACLs refuse, gets 403; no credentials, 401.
func TestMaintenanceEndpoints(t *testing.T) {
	cl := startCluster(t, codec.JSON, withOps(t), withACLs(t, maintenanceACLs))
	ops, eve := basic{"ops", "o-secret"}, basic{"eve", "e-secret"}
	do := func(method, path, body string, who basic) (int, string) {
		t.Helper()
		resp := send(t, method, cl.base+path, []byte(body), who, map[string]string{"Content-Type": "application/json"})
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	expect := func(method, path, body string, who basic, status int, want string) {
		t.Helper()
		if got, b := do(method, path, body, who); got != status || !strings.Contains(b, want) {
			t.Fatalf("%s %s %s as %q: %d %s; want %d with %q", method, path, body, who.user, got, b, status, want)
		}
	}
	machine := `{"hostname":"HOST1","ip":"10.0.0.1"}`
	schedule := `{"windows":[{"machine_ids":[` + machine + `],"unavailability":{"start":{"nanoseconds":1000}}}]}`

	expect(http.MethodPost, "/master/maintenance/schedule", schedule, basic{}, http.StatusUnauthorized, "")
	expect(http.MethodPost, "/master/maintenance/schedule", schedule, eve, http.StatusForbidden, "update_maintenance_schedules")
	expect(http.MethodGet, "/master/maintenance/schedule", "", eve, http.StatusForbidden, "get_maintenance_schedules")
	expect(http.MethodGet, "/master/maintenance/status", "", eve, http.StatusForbidden, "get_maintenance_statuses")
	expect(http.MethodPost, "/master/machine/down", "["+machine+"]", eve, http.StatusForbidden, "start_maintenances")
	expect(http.MethodPost, "/master/machine/up", "["+machine+"]", eve, http.StatusForbidden, "stop_maintenances")

	expect(http.MethodPost, "/master/maintenance/schedule", schedule, ops, http.StatusOK, "")
	expect(http.MethodGet, "/master/maintenance/schedule", "", ops, http.StatusOK, `"hostname":"HOST1"`)
	expect(http.MethodGet, "/master/maintenance/status", "", ops, http.StatusOK, `"draining_machines":[{"id":{"hostname":"HOST1","ip":"10.0.0.1"}`)

	for _, tc := range []struct {
		method, path, body string
		status             int
		want               string
	}{
		{http.MethodPost, "/master/maintenance/schedule", "not json", http.StatusBadRequest, "Failed to parse the maintenance schedule"},
		{http.MethodPost, "/master/maintenance/schedule", `{"windows":[{"machine_ids":[],"unavailability":{"start":{"nanoseconds":0}}}]}`, http.StatusBadRequest, "List of machines in the maintenance window is empty"},
		{http.MethodPost, "/master/machine/down", machine, http.StatusBadRequest, "JSON array of MachineID"},
		{http.MethodPost, "/master/machine/down", `[]`, http.StatusBadRequest, "List of machines is empty"},
		{http.MethodPost, "/master/machine/down", `[{"hostname":7}]`, http.StatusBadRequest, "Failed to parse machine 0"},
		{http.MethodPost, "/master/machine/down", `[{"hostname":"other"}]`, http.StatusBadRequest, "is not part of a maintenance schedule"},
		{http.MethodPost, "/master/machine/up", "[" + machine + "]", http.StatusBadRequest, "is not in DOWN mode"},
		{http.MethodGet, "/master/machine/down", "", http.StatusMethodNotAllowed, "Expecting 'POST'"},
		{http.MethodPut, "/master/maintenance/schedule", "", http.StatusMethodNotAllowed, "Expecting 'GET' or 'POST'"},
		{http.MethodPost, "/master/maintenance/status", "", http.StatusMethodNotAllowed, "Expecting 'GET'"},
	} {
		expect(tc.method, tc.path, tc.body, ops, tc.status, tc.want)
	}

	expect(http.MethodPost, "/master/machine/down", "["+machine+"]", ops, http.StatusOK, "")
	cl.agent.nextOf(linkpb.MasterEvent_SHUTDOWN_AGENT)
	expect(http.MethodGet, "/master/maintenance/status", "", ops, http.StatusOK, `"down_machines":[{"hostname":"HOST1","ip":"10.0.0.1"}]`)
	expect(http.MethodPost, "/master/machine/up", "["+machine+"]", ops, http.StatusOK, "")
	if _, b := do(http.MethodGet, "/master/maintenance/schedule", "", ops); strings.Contains(b, "HOST1") {
		t.Fatalf("schedule after machine/up still names the machine: %s", b)
	}
}
