package master

import (
	"net/http"
	"strings"
	"testing"

	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/quotapb"
	"google.golang.org/protobuf/proto"
)

func scalars(kv map[string]float64) map[string]*mesospb.Value_Scalar {
	out := map[string]*mesospb.Value_Scalar{}
	for k, v := range kv {
		out[k] = &mesospb.Value_Scalar{Value: proto.Float64(v)}
	}
	return out
}

// TestOperatorQuota sets, reads and removes quotas over real HTTP in both
// codecs, and checks Mesos' validation: the capacity check unless forced,
// guarantee <= limit, the role, the deprecated calls' rules.
func TestOperatorQuota(t *testing.T) {
	for _, c := range codecs {
		t.Run(c.MediaType(), func(t *testing.T) {
			cl := startCluster(t, c) // one agent with cpus:4;mem:1024
			base := cl.base
			update := func(force bool, cfgs ...*quotapb.QuotaConfig) (int, string) {
				status, _, body := operatorCall(t, base, c, &masterpb.Call{Type: masterpb.Call_UPDATE_QUOTA.Enum(),
					UpdateQuota: &masterpb.Call_UpdateQuota{Force: proto.Bool(force), QuotaConfigs: cfgs}})
				return status, string(body)
			}
			if st := query(t, base, c, masterpb.Call_GET_QUOTA).GetGetQuota().GetStatus(); len(st.GetConfigs()) != 0 {
				t.Fatalf("GET_QUOTA before any: %v", st)
			}
			for name, tc := range map[string]struct {
				force bool
				cfg   *quotapb.QuotaConfig
				want  string
			}{
				"over capacity":   {false, &quotapb.QuotaConfig{Role: proto.String("web"), Guarantees: scalars(map[string]float64{"cpus": 5})}, "Invalid QuotaConfig: total quota guarantees 'cpus:5' exceed cluster capacity 'cpus:4"},
				"guarantee>limit": {true, &quotapb.QuotaConfig{Role: proto.String("web"), Guarantees: scalars(map[string]float64{"cpus": 2}), Limits: scalars(map[string]float64{"cpus": 1})}, "above the limit"},
				"star role":       {true, &quotapb.QuotaConfig{Role: proto.String("*"), Limits: scalars(map[string]float64{"cpus": 1})}, "cannot be set"},
				"bad role":        {true, &quotapb.QuotaConfig{Role: proto.String("a b"), Limits: scalars(map[string]float64{"cpus": 1})}, "role"},
				"negative":        {true, &quotapb.QuotaConfig{Role: proto.String("web"), Limits: scalars(map[string]float64{"cpus": -1})}, "non-negative"},
			} {
				if status, body := update(tc.force, tc.cfg); status != http.StatusBadRequest || !strings.Contains(body, tc.want) {
					t.Errorf("%s: %d %s", name, status, body)
				}
			}
			if status, body := update(true, &quotapb.QuotaConfig{Role: proto.String("web"), Guarantees: scalars(map[string]float64{"cpus": 5})}); status != http.StatusOK {
				t.Fatalf("forced over capacity: %d %s", status, body)
			}
			if status, body := update(false, &quotapb.QuotaConfig{Role: proto.String("web"),
				Guarantees: scalars(map[string]float64{"cpus": 1}), Limits: scalars(map[string]float64{"cpus": 2, "mem": 512})}); status != http.StatusOK {
				t.Fatalf("UPDATE_QUOTA: %d %s", status, body)
			}
			st := query(t, base, c, masterpb.Call_GET_QUOTA).GetGetQuota().GetStatus()
			if len(st.GetConfigs()) != 1 || st.GetConfigs()[0].GetRole() != "web" || st.GetConfigs()[0].GetLimits()["mem"].GetValue() != 512 ||
				st.GetConfigs()[0].GetGuarantees()["cpus"].GetValue() != 1 || len(st.GetInfos()) != 1 || len(st.GetInfos()[0].GetGuarantee()) != 1 {
				t.Fatalf("GET_QUOTA: %v", st)
			}
			// /master/roles shows the quota as Mesos' /roles does.
			var roles struct {
				Roles []struct {
					Name       string
					Frameworks []string
					Quota      *struct {
						Role             string
						Guarantee, Limit map[string]float64
					}
				}
			}
			getJSON(t, base+"/master/roles", &roles)
			// The framework is in role "*" (no quota); web has a quota only.
			if len(roles.Roles) != 2 || roles.Roles[0].Name != "*" || len(roles.Roles[0].Frameworks) != 1 || roles.Roles[0].Quota != nil {
				t.Errorf("/master/roles: %+v", roles)
			} else if web := roles.Roles[1]; web.Name != "web" || len(web.Frameworks) != 0 || web.Quota == nil ||
				web.Quota.Role != "web" || web.Quota.Guarantee["cpus"] != 1 || web.Quota.Limit["mem"] != 512 || len(web.Quota.Guarantee) != 1 {
				t.Errorf("/master/roles web: %+v", web)
			}
			// The deprecated calls: SET_QUOTA refuses a role with a quota;
			// REMOVE_QUOTA refuses one without.
			setQuota := &masterpb.Call{Type: masterpb.Call_SET_QUOTA.Enum(), SetQuota: &masterpb.Call_SetQuota{QuotaRequest: &quotapb.QuotaRequest{
				Role: proto.String("web"), Guarantee: []*mesospb.Resource{{Name: proto.String("cpus"), Type: mesospb.Value_SCALAR.Enum(), Scalar: &mesospb.Value_Scalar{Value: proto.Float64(1)}}}}}}
			if status, _, body := operatorCall(t, base, c, setQuota); status != http.StatusBadRequest || !strings.Contains(string(body), "already has a quota") {
				t.Errorf("SET_QUOTA on a role with quota: %d %s", status, body)
			}
			remove := func(role string) (int, string) {
				status, _, body := operatorCall(t, base, c, &masterpb.Call{Type: masterpb.Call_REMOVE_QUOTA.Enum(),
					RemoveQuota: &masterpb.Call_RemoveQuota{Role: proto.String(role)}})
				return status, string(body)
			}
			if status, body := remove("web"); status != http.StatusOK {
				t.Fatalf("REMOVE_QUOTA: %d %s", status, body)
			}
			if status, body := remove("web"); status != http.StatusBadRequest {
				t.Errorf("REMOVE_QUOTA twice: %d %s", status, body)
			}
			if status, _, body := operatorCall(t, base, c, setQuota); status != http.StatusOK {
				t.Fatalf("SET_QUOTA: %d %s", status, body)
			}
			cfg := query(t, base, c, masterpb.Call_GET_QUOTA).GetGetQuota().GetStatus().GetConfigs()
			if len(cfg) != 1 || cfg[0].GetGuarantees()["cpus"].GetValue() != 1 || cfg[0].GetLimits()["cpus"].GetValue() != 1 {
				t.Errorf("GET_QUOTA after SET_QUOTA (guarantee and limit): %v", cfg)
			}
			for _, typ := range []masterpb.Call_Type{masterpb.Call_UPDATE_QUOTA, masterpb.Call_SET_QUOTA, masterpb.Call_REMOVE_QUOTA} {
				if status, _, body := operatorCall(t, base, c, &masterpb.Call{Type: typ.Enum()}); status != http.StatusBadRequest {
					t.Errorf("%v without payload: %d %s", typ, status, body)
				}
			}
		})
	}
}
