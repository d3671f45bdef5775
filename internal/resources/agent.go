package resources

// Detected is what an agent found on its host; zero fields mean detection
// failed.
type Detected struct {
	CPUs      float64
	MemBytes  uint64
	DiskBytes uint64 // size of the file system holding the work directory
}

const mib = 1 << 20

// DefaultPorts is the port range an agent offers when --resources names no
// ports.
var DefaultPorts = Resource{Name: "ports", Role: Unreserved, Kind: KindRanges, Ranges: []Range{{31000, 32000}}}

// AgentResources combines the --resources flag with detected values the way
// a Mesos agent does: each of cpus, mem, disk and ports named in the flag
// (under any role) is taken from the flag; otherwise cpus is the detected
// count (1 if unknown), mem the detected memory less 1 GiB when there is more
// than 1 GiB (1024 MB if unknown), disk the detected size less 5 GiB when
// there is more than 10 GiB (10240 MB if unknown), and ports [31000-32000].
// Amounts are in MB as Mesos counts them.
func AgentResources(flag Resources, d Detected) Resources {
	var extra []Resource
	scalar := func(name string, v float64) {
		s, err := ScalarFromFloat(v)
		if err == nil && s > 0 {
			extra = append(extra, Resource{Name: name, Role: Unreserved, Kind: KindScalar, Scalar: s})
		}
	}
	if !flag.Has("cpus") {
		cpus := d.CPUs
		if cpus <= 0 {
			cpus = 1
		}
		scalar("cpus", cpus)
	}
	if !flag.Has("mem") {
		mem := float64(d.MemBytes / mib)
		switch {
		case mem == 0:
			mem = 1024
		case mem > 1024:
			mem -= 1024
		}
		scalar("mem", mem)
	}
	if !flag.Has("disk") {
		disk := float64(d.DiskBytes / mib)
		switch {
		case disk == 0:
			disk = 10240
		case disk > 10240:
			disk -= 5120
		}
		scalar("disk", disk)
	}
	if !flag.Has("ports") {
		extra = append(extra, DefaultPorts)
	}
	add, err := New(extra...)
	if err != nil {
		return flag // unreachable: the entries above are valid
	}
	return flag.Add(add)
}
