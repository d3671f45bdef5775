package dispatcher

import (
	"strings"
	"testing"
)

// A create request becomes the driver's command, resources and URIs as
// docs/dispatcher.md says; bad settings are refused naming the setting.
func TestCreateRequestDescription(t *testing.T) {
	req := CreateRequest{Action: "CreateSubmissionRequest", AppResource: "/opt/apps/groupby",
		AppArgs: []string{"--n", "1000", "it's"},
		SparkProperties: map[string]string{
			"spark.master": "mesos://d:7077", "spark.driver.cores": "2", "spark.driver.memory": "2g",
			"spark.driver.supervise": "true", "spark.app.name": "demo", "spark.cores.max": "4",
			"spark.mesos.uris": "http://files/a.txt, http://files/b.txt", "spark.mesos.driver.constraints": "rack:r1,r2;ssd",
		}}
	d, err := req.Description("10.0.0.1:5050")
	if err != nil {
		t.Fatal(err)
	}
	if want := `./groupby --master mesos://10.0.0.1:5050 ${MESO_FRAMEWORK_ID:+--conf spark.mesos.driver.frameworkId=$MESO_FRAMEWORK_ID} ` +
		`--conf spark.mesos.driver.labels="meso.dispatcher.submission:$MESO_SUBMISSION_ID" --conf spark.cores.max=4 --n 1000 'it'\''s'`; d.Command != want {
		t.Fatalf("command %s, want %s", d.Command, want)
	}
	if got := d.Resources.String(); !strings.Contains(got, "cpus:2") || !strings.Contains(got, "mem:2432") {
		t.Fatalf("resources %s, want cpus:2 and mem 2048 + max(384, 10%%)", got)
	}
	if got := d.Constraints.String(); got != "rack:r1,r2;ssd:" {
		t.Fatalf("constraints %q", got)
	}
	if !d.Supervise || d.Name != "demo" || len(d.URIs) != 3 || d.URIs[0] != "/opt/apps/groupby" {
		t.Fatalf("description %+v", d)
	}
	small, err := (&CreateRequest{Action: "CreateSubmissionRequest", AppResource: "x",
		SparkProperties: map[string]string{"spark.driver.memory": "512m"}}).Description("m:5050")
	if err != nil {
		t.Fatal(err)
	}
	if got := small.Resources.String(); !strings.Contains(got, "mem:896") || len(small.URIs) != 0 {
		t.Fatalf("512m driver: %s, URIs %v; want 512 + 384 MiB and nothing to fetch for a bare name", got, small.URIs)
	}
	for _, bad := range []struct {
		req  CreateRequest
		want string
	}{
		{CreateRequest{Action: "KillSubmissionRequest", AppResource: "x"}, "CreateSubmissionRequest"},
		{CreateRequest{Action: "CreateSubmissionRequest"}, "appResource"},
		{CreateRequest{Action: "CreateSubmissionRequest", AppResource: "x", SparkProperties: map[string]string{"spark.driver.cores": "many"}}, "spark.driver.cores"},
		{CreateRequest{Action: "CreateSubmissionRequest", AppResource: "x", SparkProperties: map[string]string{"spark.driver.cores": "-1"}}, "spark.driver.cores"},
		{CreateRequest{Action: "CreateSubmissionRequest", AppResource: "x", SparkProperties: map[string]string{"spark.driver.memory": "lots"}}, "spark.driver.memory"},
		{CreateRequest{Action: "CreateSubmissionRequest", AppResource: "x", SparkProperties: map[string]string{"spark.mesos.driver.constraints": "a:1;a:2"}}, "spark.mesos.driver.constraints"},
	} {
		if _, err := bad.req.Description("m:5050"); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("%+v: error %v, want one naming %s", bad.req, err, bad.want)
		}
	}
}
