package mesosbackend

import "github.com/mesoproject/meso/internal/resources"

// spark.mesos.constraints is resources' constraint syntax and matching,
// which the dispatcher shares for spark.mesos.driver.constraints.
type (
	Constraint  = resources.Constraint
	Constraints = resources.Constraints
)

// ErrConstraints is wrapped by every spark.mesos.constraints parse error.
var ErrConstraints = resources.ErrConstraints

// ParseConstraints reads spark.mesos.constraints (resources.ParseConstraints).
func ParseConstraints(s string) (Constraints, error) { return resources.ParseConstraints(s) }
