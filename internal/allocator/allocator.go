package allocator

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/mesoproject/meso/internal/resources"
)

// Errors returned for calls the allocator cannot apply. The call has no
// effect when it returns one.
var (
	ErrUnknownAgent     = errors.New("allocator: unknown agent")
	ErrUnknownFramework = errors.New("allocator: unknown framework")
	ErrDuplicate        = errors.New("allocator: already exists")
	ErrInvalid          = errors.New("allocator: invalid argument")
	// ErrNotHeld: Recover or Allocated named resources the framework does
	// not hold (offered, or for Recover also used) on that agent and role.
	ErrNotHeld = errors.New("allocator: resources not held")
)

// DefaultRefuse is Mesos' default refuse_seconds for a decline.
const DefaultRefuse = 5 * time.Second

// MaxRefuse caps refusal filters, as Mesos does.
const MaxRefuse = 365 * 24 * time.Hour

// UseDefaultRefuse, passed as Recover's refuse, installs a filter of
// Config.DefaultRefuse (a negative refuse_seconds does the same in Mesos).
const UseDefaultRefuse time.Duration = -1

// Config configures an Allocator. The zero value is usable.
type Config struct {
	// MinAllocatable is --min_allocatable_resources: an agent's resources
	// are offered to a role only if they contain at least one of these
	// quantity lists. Empty means any non-empty resources are offered.
	// Mesos' default is "cpus:0.01|mem:32" (see ParseMinAllocatable).
	MinAllocatable []resources.Quantities
	// DefaultRefuse is the filter installed by Recover with
	// UseDefaultRefuse; zero means DefaultRefuse (5s).
	DefaultRefuse time.Duration
	// FairnessExcluded names resources left out of DRF shares
	// (--fair_sharing_excluded_resource_names), e.g. "gpus".
	FairnessExcluded []string
	// OfferGPUsToAll offers agents with GPUs to frameworks without the
	// GPU_RESOURCES capability (Mesos' --filter_gpu_resources=false).
	OfferGPUsToAll bool
	// ShuffleSeed, when non-zero, shuffles the agent visiting order of every
	// cycle with a generator seeded from it, so that no agent is always
	// first; the order stays deterministic. Zero visits agents by id.
	ShuffleSeed uint64
	// OfferFanout, when above 1, makes offers optimistic (meso's
	// --offer_mode=optimistic, after Omega's shared state; Mesos never
	// shipped it, MESOS-1607): the resources of each stage-2 offer are
	// also offered to up to OfferFanout-1 more frameworks, the next ones
	// in DRF order that may receive them (filters, suppression and GPU
	// rules apply to each). See Offer.Group.
	OfferFanout int
}

// ParseMinAllocatable parses the --min_allocatable_resources syntax:
// alternatives separated by '|', each a quantity list like
// "cpus:0.01;mem:32".
func ParseMinAllocatable(text string) ([]resources.Quantities, error) {
	var out []resources.Quantities
	for alt := range strings.SplitSeq(text, "|") {
		q, err := resources.ParseQuantities(alt)
		if err != nil {
			return nil, err
		}
		if len(q) == 0 {
			return nil, fmt.Errorf("%w: empty alternative in min allocatable resources %q", ErrInvalid, text)
		}
		out = append(out, q)
	}
	return out, nil
}

// Framework describes a framework as the allocator needs it.
type Framework struct {
	// Roles the framework subscribes to (one, unless MULTI_ROLE).
	Roles []string
	// SuppressedRoles starts these roles suppressed (FrameworkInfo's
	// suppressed_roles on SUBSCRIBE).
	SuppressedRoles []string
	// GPUResources is the GPU_RESOURCES capability.
	GPUResources bool
}

// Holding is what a framework holds on an agent under one role: resources
// used by its tasks and executors when passed to AddAgent.
type Holding struct {
	Framework string
	Role      string
	Resources resources.Resources
}

// Offer is one allocation decision: the framework is offered Resources on
// Agent under Role. The resources stay allocated to the framework until the
// master calls Recover or Allocated for them.
type Offer struct {
	Framework string
	Agent     string
	Role      string
	Resources resources.Resources
	// Group is non-zero for optimistic offers (Config.OfferFanout): the
	// offers of one group name the same Agent and Resources. The first
	// of a group holds them (they count against its framework); the
	// others have Shadow set and hold nothing until the master moves the
	// holding to them with Transfer (their framework accepted first).
	Group  uint64
	Shadow bool
}

func (o Offer) String() string {
	return fmt.Sprintf("%s %s role=%s %s", o.Framework, o.Agent, o.Role, o.Resources)
}

// Allocator is the weighted-DRF allocator. Create it with New.
type Allocator struct {
	cfg           Config
	defaultRefuse time.Duration
	rng           *rand.Rand

	agents map[string]*agent
	// agentsAdded counts AddAgent calls (agent.books starts from it).
	agentsAdded uint64
	agentOrder  []*agent // sorted by id
	visit       []*agent // scratch for shuffled cycles
	frameworks  map[string]*framework
	roles       map[string]*role
	nodes       map[string]*node // the role tree, by role path
	weights     map[string]float64
	quotas      map[string]*quota
	// topGuarantees are the quotas with guarantees and no guaranteed
	// ancestor, sorted by role: their unmet parts make up the headroom.
	topGuarantees []*quota
	head          headroom
	capLimit      []int64 // scratch for capOffer
	capHead       []int64
	amounts       []resources.Scalar // scratch for shrink
	slots         []*candidate       // by slot; nil when free
	freeSlots     []int32

	names    map[string]int // scalar resource name -> index
	nameList []string       // index -> name
	excluded []bool         // by name index
	total    []int64        // cluster scalar totals, by name index

	// noIdle turns the idle-agent shortcut off (benchmarks measure the
	// cycle without it).
	noIdle bool

	// epoch increases whenever a framework may have become able to receive
	// offers it could not before; it invalidates every agent's idle mark.
	epoch uint64

	roleUIDs uint64       // last role uid handed out
	groups   uint64       // last optimistic offer group handed out
	picked   []*candidate // scratch for fanOut

	sharesDirty  bool // totals changed: recompute every share
	membersDirty bool // eligibility changed: rebuild role member lists
	orderDirty   bool // some share changed: re-sort
	sortedRoles  []*role
	roleScratch  []*role
}

// New returns an empty allocator.
func New(cfg Config) *Allocator {
	a := &Allocator{
		cfg:           cfg,
		defaultRefuse: cfg.DefaultRefuse,
		agents:        map[string]*agent{},
		frameworks:    map[string]*framework{},
		roles:         map[string]*role{},
		nodes:         map[string]*node{},
		weights:       map[string]float64{},
		quotas:        map[string]*quota{},
		names:         map[string]int{},
		epoch:         1,
	}
	if a.defaultRefuse <= 0 {
		a.defaultRefuse = DefaultRefuse
	}
	if cfg.ShuffleSeed != 0 {
		a.rng = rand.New(rand.NewPCG(cfg.ShuffleSeed, cfg.ShuffleSeed^0x9e3779b97f4a7c15))
	}
	return a
}

// nameIndex interns a scalar resource name.
func (a *Allocator) nameIndex(name string) int {
	if i, ok := a.names[name]; ok {
		return i
	}
	i := len(a.names)
	a.names[name] = i
	a.nameList = append(a.nameList, name)
	a.excluded = append(a.excluded, slices.Contains(a.cfg.FairnessExcluded, name))
	a.total = append(a.total, 0)
	return i
}

// addScalars adds sign times the scalar entries of r to vec.
func (a *Allocator) addScalars(vec *[]int64, r resources.Resources, sign int64) {
	for i := range r {
		if r[i].Kind != resources.KindScalar {
			continue
		}
		idx := a.nameIndex(r[i].Name)
		if idx >= len(*vec) {
			*vec = append(*vec, make([]int64, idx+1-len(*vec))...)
		}
		(*vec)[idx] += sign * int64(r[i].Scalar)
	}
}

// dominantShare is the largest fraction of any cluster scalar total held.
func (a *Allocator) dominantShare(alloc []int64) float64 {
	var s float64
	for i, v := range alloc {
		if v == 0 || i >= len(a.total) || a.total[i] <= 0 || a.excluded[i] {
			continue
		}
		s = math.Max(s, float64(v)/float64(a.total[i]))
	}
	return s
}

// validRole accepts Mesos role names, "*" included: it is FrameworkInfo's
// default role, and a framework in it is offered unreserved resources only.
func validRole(role string) error {
	if role == resources.Unreserved {
		return nil
	}
	if err := resources.ValidateRole(role); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return nil
}

// SetWeight sets a role's weight (default 1). Higher weights earn larger
// shares: a role's dominant share is divided by its weight.
func (a *Allocator) SetWeight(role string, w float64) error {
	if err := validRole(role); err != nil {
		return err
	}
	if !(w > 0) || math.IsInf(w, 0) {
		return fmt.Errorf("%w: weight %v for role %q must be positive and finite", ErrInvalid, w, role)
	}
	a.weights[role] = w
	if r, ok := a.roles[role]; ok {
		r.weight = w
		r.share = a.dominantShare(r.alloc) / w
	}
	if n, ok := a.nodes[role]; ok {
		n.weight = w
		n.share = a.dominantShare(n.alloc) / w
	}
	a.orderDirty = true
	return nil
}

// Weights returns the weights set with SetWeight, by role (a copy).
func (a *Allocator) Weights() map[string]float64 { return maps.Clone(a.weights) }

// Weight returns a role's weight.
func (a *Allocator) Weight(role string) float64 {
	if w, ok := a.weights[role]; ok {
		return w
	}
	return 1
}
