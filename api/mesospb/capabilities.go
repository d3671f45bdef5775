package mesospb

// HasCapability reports whether a framework declares capability c
// (written by hand, next to the wire types, so that every package asks the
// same way).
func HasCapability(info *FrameworkInfo, c FrameworkInfo_Capability_Type) bool {
	for _, cp := range info.GetCapabilities() {
		if cp.GetType() == c {
			return true
		}
	}
	return false
}
