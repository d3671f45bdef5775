package master

import (
	"net/http"
	"testing"

	"github.com/mesoproject/meso/api/codec"
	"github.com/mesoproject/meso/api/masterpb"
	"github.com/mesoproject/meso/api/mesospb"
	"github.com/mesoproject/meso/api/quotapb"
	"google.golang.org/protobuf/proto"
)

// TestWeightsAndQuotaSurviveRestart: UPDATE_WEIGHTS and UPDATE_QUOTA are
// written to the registry; the only master restarted on the same work dir
// recovers them into its allocator and reports them in GET_WEIGHTS,
// GET_ROLES and GET_QUOTA before any agent or framework is back.
func TestWeightsAndQuotaSurviveRestart(t *testing.T) {
	dir := t.TempDir()
	rep := func() *Replicated { return fastRaft(&Replicated{Dir: dir, Bind: "127.0.0.1:0"}) }
	first := serveHA(t, listen(t), rep())
	waitLeading(t, first)
	c := codec.JSON
	if status, _, body := operatorCall(t, first.base, c, &masterpb.Call{Type: masterpb.Call_UPDATE_WEIGHTS.Enum(),
		UpdateWeights: &masterpb.Call_UpdateWeights{WeightInfos: []*mesospb.WeightInfo{
			{Role: proto.String("eng"), Weight: proto.Float64(3)}, {Role: proto.String("ops"), Weight: proto.Float64(0.5)}}}}); status != http.StatusOK {
		t.Fatalf("UPDATE_WEIGHTS: %d %s", status, body)
	}
	if status, _, body := operatorCall(t, first.base, c, &masterpb.Call{Type: masterpb.Call_UPDATE_QUOTA.Enum(),
		UpdateQuota: &masterpb.Call_UpdateQuota{Force: proto.Bool(true), QuotaConfigs: []*quotapb.QuotaConfig{{
			Role: proto.String("eng"), Guarantees: scalars(map[string]float64{"cpus": 2})}}}}); status != http.StatusOK {
		t.Fatalf("UPDATE_QUOTA: %d %s", status, body)
	}
	first.stop()

	second := serveHA(t, listen(t), rep())
	waitLeading(t, second)
	weights := query(t, second.base, c, masterpb.Call_GET_WEIGHTS).GetGetWeights().GetWeightInfos()
	if len(weights) != 2 || weights[0].GetRole() != "eng" || weights[0].GetWeight() != 3 ||
		weights[1].GetRole() != "ops" || weights[1].GetWeight() != 0.5 {
		t.Fatalf("GET_WEIGHTS after restart = %v; want eng=3 ops=0.5", weights)
	}
	got := map[string]float64{}
	for _, r := range query(t, second.base, c, masterpb.Call_GET_ROLES).GetGetRoles().GetRoles() {
		got[r.GetName()] = r.GetWeight()
	}
	if got["eng"] != 3 || got["ops"] != 0.5 {
		t.Fatalf("GET_ROLES after restart = %v; want eng weight 3, ops 0.5", got)
	}
	qs := query(t, second.base, c, masterpb.Call_GET_QUOTA).GetGetQuota().GetStatus().GetConfigs()
	if len(qs) != 1 || qs[0].GetRole() != "eng" || qs[0].GetGuarantees()["cpus"].GetValue() != 2 {
		t.Fatalf("GET_QUOTA after restart = %v; want eng cpus:2", qs)
	}
}
