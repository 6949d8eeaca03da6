package ring // import "github.com/otelcol-tiered/otelcol-tiered/internal/ring"

import (
	"fmt"
	"strings"
)

// Generation names one of the ring algorithms contrib's load-balancing
// exporter has used. Agents and the gateways checking them must use the same.
type Generation string

const (
	// Current is the ring of v0.157.0 and later: 131071 positions, 200 points
	// per member, all candidates sorted globally before linear probing.
	Current Generation = "v0.157"
	// V0130 is the ring of v0.130.0 to v0.156.x: 36000 positions, 100 points
	// per member, members placed one after another with linear probing.
	V0130 Generation = "v0.130"
	// V0129 is the ring of v0.129.x and older: 36000 positions, 100 points per
	// member, a one-byte point suffix, a taken position is skipped.
	V0129 Generation = "v0.129"
)

// Generations lists the known generations, newest first.
var Generations = []Generation{Current, V0130, V0129}

// ParseGeneration accepts a generation name; empty means Current.
func ParseGeneration(s string) (Generation, error) {
	if s == "" {
		return Current, nil
	}
	for _, g := range Generations {
		if Generation(s) == g {
			return g, nil
		}
	}
	names := make([]string, len(Generations))
	for i, g := range Generations {
		names[i] = string(g)
	}
	return "", fmt.Errorf("unknown ring generation %q, want one of %s", s, strings.Join(names, ", "))
}

type params struct {
	positions  uint32
	points     int
	probeLimit int
	// byteSuffix hashes point i as one byte instead of uint32 little-endian.
	byteSuffix bool
	// globalSort sorts all members' candidates before placing them.
	globalSort bool
}

func (g Generation) params() params {
	switch g {
	case V0130:
		return params{positions: 36000, points: 100, probeLimit: 10}
	case V0129:
		return params{positions: 36000, points: 100, probeLimit: 0, byteSuffix: true}
	default:
		return params{positions: 131071, points: 200, probeLimit: 10, globalSort: true}
	}
}
