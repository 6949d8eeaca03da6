// Package confcheck holds the checks that several components' Validate
// share: durations that must carry a unit and stay above a sane minimum,
// ports. Each returns an error naming the field as the caller passes it
// (from the component's root, e.g. "audit::window").
package confcheck // import "github.com/otelcol-tiered/otelcol-tiered/internal/confcheck"

import (
	"fmt"
	"strconv"
	"time"
)

// Duration checks a duration field: not negative and, unless zero is
// allowed (zeroOK: zero means the default or off), at least minimum. A
// value below a microsecond is almost always a number written without a
// unit (the collector reads `30` as 30 ns): the error says so.
func Duration(field string, d, minimum time.Duration, zeroOK bool) error {
	switch {
	case d < 0:
		return fmt.Errorf("%s: must not be negative, got %s", field, d)
	case d == 0 && zeroOK:
		return nil
	case d == 0:
		return fmt.Errorf("%s: must be positive, got 0s", field)
	case d >= minimum:
		return nil
	case d < time.Microsecond:
		return fmt.Errorf("%s: %s is below the minimum %s: the unit is missing (a bare number is nanoseconds), write e.g. %ds", field, d, minimum, int64(d))
	}
	return fmt.Errorf("%s: %s is below the minimum %s", field, d, minimum)
}

// Port checks a TCP port number.
func Port(field string, port int64) error {
	if port < 1 || port > 65535 {
		return fmt.Errorf("%s: must be a port from 1 to 65535, got %d", field, port)
	}
	return nil
}

// PortString checks a port written as a string ("4317"); empty is allowed
// when optional.
func PortString(field, port string, optional bool) error {
	if port == "" {
		if optional {
			return nil
		}
		return fmt.Errorf("%s: required, a port from 1 to 65535", field)
	}
	n, err := strconv.ParseInt(port, 10, 64)
	if err != nil {
		return fmt.Errorf("%s: %q is not a port number (1 to 65535)", field, port)
	}
	return Port(field, n)
}
