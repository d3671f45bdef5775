package acl

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"
)

// ErrACLs wraps every error reading an ACLs document.
var ErrACLs = errors.New("acl: invalid ACLs")

// ErrDenied wraps every refusal Check returns.
var ErrDenied = errors.New("acl: not authorized")

// Action names an ACL list as Mesos' JSON does ("register_frameworks").
type Action string

// The actions meso enforces. Every other action of Mesos' ACLs message is
// parsed (so that a Mesos ACL file loads) and has a rule list, but nothing
// asks about it yet.
const (
	RegisterFrameworks Action = "register_frameworks"
	RunTasks           Action = "run_tasks"
	TeardownFrameworks Action = "teardown_frameworks"
	ReserveResources   Action = "reserve_resources"
	UnreserveResources Action = "unreserve_resources"
	CreateVolumes      Action = "create_volumes"
	DestroyVolumes     Action = "destroy_volumes"
	UpdateWeights      Action = "update_weights"
	GetQuotas          Action = "get_quotas"
	UpdateQuotas       Action = "update_quotas"
	ViewFrameworks     Action = "view_frameworks"
	ViewTasks          Action = "view_tasks"
	ViewExecutors      Action = "view_executors"
	AccessSandboxes    Action = "access_sandboxes"
	AccessMesosLogs    Action = "access_mesos_logs"
	ViewFlags          Action = "view_flags"
	SetLogLevel        Action = "set_log_level"
	DrainAgents        Action = "drain_agents"
	DeactivateAgents   Action = "deactivate_agents"
	ReactivateAgents   Action = "reactivate_agents"
	MarkAgentsGone     Action = "mark_agents_gone"

	UpdateMaintenanceSchedules Action = "update_maintenance_schedules"
	GetMaintenanceSchedules    Action = "get_maintenance_schedules"
	StartMaintenances          Action = "start_maintenances"
	StopMaintenances           Action = "stop_maintenances"
	GetMaintenanceStatuses     Action = "get_maintenance_statuses"
)

// objectKind says how an action's object is given.
type objectKind int

const (
	explicit  objectKind = iota // the request names one object
	roles                       // a role: "a/%" rules match the roles below "a"
	implicitO                   // the object is implicit: requests carry ANY
)

type actionSpec struct {
	objects string // the JSON field of the rule's objects
	kind    objectKind
}

// actions lists every list of Mesos' ACLs message with its objects field.
var actions = map[Action]actionSpec{
	RegisterFrameworks:                 {"roles", roles},
	RunTasks:                           {"users", explicit},
	ReserveResources:                   {"roles", roles},
	UnreserveResources:                 {"reserver_principals", explicit},
	CreateVolumes:                      {"roles", roles},
	DestroyVolumes:                     {"creator_principals", explicit},
	TeardownFrameworks:                 {"framework_principals", explicit},
	UpdateWeights:                      {"roles", roles},
	"get_endpoints":                    {"paths", explicit},
	GetQuotas:                          {"roles", roles},
	UpdateQuotas:                       {"roles", roles},
	ViewFrameworks:                     {"users", explicit},
	ViewTasks:                          {"users", explicit},
	ViewExecutors:                      {"users", explicit},
	AccessSandboxes:                    {"users", explicit},
	AccessMesosLogs:                    {"logs", implicitO},
	"view_roles":                       {"roles", roles},
	ViewFlags:                          {"flags", implicitO},
	"launch_nested_containers_as_user": {"users", explicit},
	"launch_nested_containers_under_parent_with_user":         {"users", explicit},
	"kill_nested_containers":                                  {"users", explicit},
	"wait_nested_containers":                                  {"users", explicit},
	"launch_nested_container_sessions_as_user":                {"users", explicit},
	"launch_nested_container_sessions_under_parent_with_user": {"users", explicit},
	"attach_containers_input":                                 {"users", explicit},
	"attach_containers_output":                                {"users", explicit},
	"view_containers":                                         {"users", explicit},
	SetLogLevel:                                               {"level", implicitO},
	"remove_nested_containers":                                {"users", explicit},
	"register_agents":                                         {"agents", implicitO},
	UpdateMaintenanceSchedules:                                {"machines", implicitO},
	GetMaintenanceSchedules:                                   {"machines", implicitO},
	StartMaintenances:                                         {"machines", implicitO},
	StopMaintenances:                                          {"machines", implicitO},
	GetMaintenanceStatuses:                                    {"machines", implicitO},
	DrainAgents:                                               {"agents", implicitO},
	DeactivateAgents:                                          {"agents", implicitO},
	ReactivateAgents:                                          {"agents", implicitO},
	MarkAgentsGone:                                            {"agents", implicitO},
	"launch_standalone_containers":                            {"users", implicitO},
	"kill_standalone_containers":                              {"users", implicitO},
	"wait_standalone_containers":                              {"users", implicitO},
	"remove_standalone_containers":                            {"users", implicitO},
	"view_standalone_containers":                              {"users", implicitO},
	"modify_resource_provider_configs":                        {"resource_providers", implicitO},
	"mark_resource_providers_gone":                            {"resource_providers", implicitO},
	"view_resource_providers":                                 {"resource_providers", implicitO},
	"prune_images":                                            {"images", implicitO},
	"resize_volumes":                                          {"roles", roles},
	"create_block_disks":                                      {"roles", roles},
	"destroy_block_disks":                                     {"roles", roles},
	"create_mount_disks":                                      {"roles", roles},
	"destroy_mount_disks":                                     {"roles", roles},
	"destroy_raw_disks":                                       {"roles", roles},
}

// Type is an entity's type: SOME (the listed values), ANY or NONE.
type Type int

// Entity types, as Mesos numbers them.
const (
	Some Type = iota
	Any
	None
)

func (t Type) String() string {
	switch t {
	case Any:
		return "ANY"
	case None:
		return "NONE"
	}
	return "SOME"
}

// Entity is the subjects or the objects of a rule.
type Entity struct {
	Type   Type
	Values []string // only for Some
}

// Rule names the rule that decided a request: the Index-th rule of
// Action's list, or, with Index -1, the permissive default.
type Rule struct {
	Action Action
	Index  int
}

func (r Rule) String() string {
	if r.Index < 0 {
		return "no " + string(r.Action) + " ACL matched (permissive default)"
	}
	return fmt.Sprintf("ACL %s[%d]", r.Action, r.Index)
}

// rule is one (possibly split) rule of a list.
type rule struct {
	index     int
	subjects  Entity
	objects   Entity
	recursive string // for a recursive role rule "a/%": the prefix "a/"
}

// ACLs is a parsed ACLs document. A nil *ACLs allows everything.
type ACLs struct {
	Permissive bool
	rules      map[Action][]rule
}

// Load reads the --acls flag: inline JSON, or a path (file:///path or
// /path) to a JSON file, as Mesos accepts.
func Load(flag string) (*ACLs, error) {
	text := strings.TrimSpace(flag)
	if strings.HasPrefix(text, "{") {
		return Parse([]byte(text))
	}
	data, err := os.ReadFile(strings.TrimPrefix(text, "file://"))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrACLs, err)
	}
	return Parse(data)
}

// Parse reads an ACLs document. Unknown actions, unknown fields and rules
// without their subjects or objects are errors (a misspelled ACL silently
// ignored would allow what it meant to forbid).
func Parse(data []byte) (*ACLs, error) {
	var doc map[string]json.RawMessage
	if err := strict(data, &doc); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrACLs, err)
	}
	if doc == nil {
		return nil, fmt.Errorf("%w: want a JSON object", ErrACLs)
	}
	a := &ACLs{Permissive: true, rules: map[Action][]rule{}}
	for _, key := range sortedKeys(doc) {
		raw := doc[key]
		if key == "permissive" {
			if err := strict(raw, &a.Permissive); err != nil {
				return nil, fmt.Errorf("%w: permissive: %w", ErrACLs, err)
			}
			continue
		}
		spec, ok := actions[Action(key)]
		if !ok {
			return nil, fmt.Errorf("%w: unknown ACL %q", ErrACLs, key)
		}
		rules, err := parseRules(raw, spec)
		if err != nil {
			return nil, fmt.Errorf("%w: %s%w", ErrACLs, key, err)
		}
		a.rules[Action(key)] = rules
	}
	return a, nil
}

func parseRules(raw json.RawMessage, spec actionSpec) ([]rule, error) {
	var list []map[string]json.RawMessage
	if err := strict(raw, &list); err != nil {
		return nil, fmt.Errorf(": %w", err)
	}
	var out []rule
	for i, fields := range list {
		var subj, obj Entity
		var err error
		for name, v := range fields {
			switch name {
			case "principals":
				subj, err = parseEntity(v)
			case spec.objects:
				obj, err = parseEntity(v)
			default:
				err = fmt.Errorf("unknown field (want principals and %s)", spec.objects)
			}
			if err != nil {
				return nil, fmt.Errorf("[%d].%s: %w", i, name, err)
			}
		}
		for _, name := range []string{"principals", spec.objects} {
			if _, ok := fields[name]; !ok {
				return nil, fmt.Errorf("[%d]: %s is required", i, name)
			}
		}
		out = append(out, split(i, subj, obj, spec.kind)...)
	}
	return out, nil
}

// split turns a role rule into Mesos' form: each "a/%" value becomes a
// recursive rule of its own, the other values stay together after them.
func split(i int, subj, obj Entity, kind objectKind) []rule {
	if kind != roles || obj.Type != Some {
		return []rule{{index: i, subjects: subj, objects: obj}}
	}
	var out []rule
	plain := Entity{Type: Some}
	for _, v := range obj.Values {
		if strings.HasSuffix(v, "/%") {
			out = append(out, rule{index: i, subjects: subj, objects: Entity{Type: Some, Values: []string{v}},
				recursive: strings.TrimSuffix(v, "%")})
		} else {
			plain.Values = append(plain.Values, v)
		}
	}
	if len(plain.Values) > 0 || len(out) == 0 {
		out = append(out, rule{index: i, subjects: subj, objects: plain})
	}
	return out
}

func parseEntity(raw json.RawMessage) (Entity, error) {
	var e struct {
		Type   *string  `json:"type"`
		Values []string `json:"values"`
	}
	if err := strict(raw, &e); err != nil {
		return Entity{}, err
	}
	out := Entity{Values: e.Values}
	if e.Type != nil {
		switch *e.Type {
		case "SOME":
		case "ANY":
			out.Type, out.Values = Any, nil
		case "NONE":
			out.Type, out.Values = None, nil
		default:
			return Entity{}, fmt.Errorf("type %q (want SOME, ANY or NONE)", *e.Type)
		}
	}
	return out, nil
}

// strict decodes JSON refusing unknown fields and trailing data.
func strict(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return errors.New("trailing data after the JSON value")
	}
	return nil
}

func sortedKeys(m map[string]json.RawMessage) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// Authorized decides whether subject may perform action on object. An
// empty subject is a request without a principal (the ANY subject). The
// object is ignored by actions whose object is implicit (logs, flags,
// agents, ...). The Rule says what decided. A nil *ACLs allows everything;
// an action not in the document falls to the permissive default.
func (a *ACLs) Authorized(action Action, subject, object string) (bool, Rule) {
	obj := Entity{Type: Some, Values: []string{object}}
	if actions[action].kind == implicitO {
		obj = Entity{Type: Any}
	}
	return a.authorized(action, subject, obj)
}

// AuthorizedAny is Authorized for a request whose object is not known (the
// ANY object, as Mesos asks when, say, a sandbox's framework is gone): only
// rules whose objects are ANY or NONE apply.
func (a *ACLs) AuthorizedAny(action Action, subject string) (bool, Rule) {
	return a.authorized(action, subject, Entity{Type: Any})
}

func (a *ACLs) authorized(action Action, subject string, obj Entity) (bool, Rule) {
	if a == nil {
		return true, Rule{Action: action, Index: -1}
	}
	req := Entity{Type: Any}
	if subject != "" {
		req = Entity{Type: Some, Values: []string{subject}}
	}
	anyACL := Entity{Type: Any}
	for _, r := range a.rules[action] {
		objects := r.objects
		if r.recursive != "" {
			if obj.Type != Some || !strings.HasPrefix(obj.Values[0], r.recursive) {
				continue
			}
			objects = anyACL // the prefix check did the object's part
		}
		if matches(req, r.subjects) && matches(obj, objects) {
			return allows(req, r.subjects) && allows(obj, objects), Rule{Action: action, Index: r.index}
		}
	}
	return a.Permissive, Rule{Action: action, Index: -1}
}

// Check is Authorized as an error: nil when allowed, else ErrDenied with a
// message naming the principal, the action, the object and the deciding
// rule (what a 403 says).
func (a *ACLs) Check(action Action, subject, object string) error {
	ok, r := a.Authorized(action, subject, object)
	return denial(ok, r, subject, object)
}

// CheckAny is AuthorizedAny as an error, as Check.
func (a *ACLs) CheckAny(action Action, subject string) error {
	ok, r := a.AuthorizedAny(action, subject)
	return denial(ok, r, subject, "")
}

func denial(ok bool, r Rule, subject, object string) error {
	if ok {
		return nil
	}
	action := r.Action
	who := "an unauthenticated request"
	if subject != "" {
		who = fmt.Sprintf("principal '%s'", subject)
	}
	what := ""
	if actions[action].kind != implicitO && object != "" {
		what = fmt.Sprintf(" on %s '%s'", strings.TrimSuffix(actions[action].objects, "s"), object)
	}
	return fmt.Errorf("%w: %s may not %s%s (%s)", ErrDenied, who, action, what, r)
}

// matches: does the rule's entity apply to the request's?
func matches(req, acl Entity) bool {
	switch req.Type {
	case None:
		return acl.Type == None
	case Any:
		return acl.Type == Any || acl.Type == None
	}
	return acl.Type != Some || subset(req.Values, acl.Values)
}

// allows: does the applying entity permit the request's?
func allows(req, acl Entity) bool {
	switch req.Type {
	case None:
		return acl.Type == None
	case Any:
		return acl.Type == Any
	}
	switch acl.Type {
	case Any:
		return true
	case None:
		return false
	}
	return subset(req.Values, acl.Values)
}

func subset(values, of []string) bool {
	for _, v := range values {
		found := false
		for _, w := range of {
			if v == w {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Known reports whether action names a list of Mesos' ACLs.
func Known(action Action) bool {
	_, ok := actions[action]
	return ok
}
