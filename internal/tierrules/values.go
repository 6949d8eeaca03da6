package tierrules // import "github.com/otelcol-tiered/otelcol-tiered/internal/tierrules"

import (
	"fmt"
	"strconv"
	"time"
)

func asMap(v any) (map[string]any, bool) {
	switch m := v.(type) {
	case map[string]any:
		return m, true
	case map[any]any:
		out := make(map[string]any, len(m))
		for k, e := range m {
			out[fmt.Sprint(k)] = e
		}
		return out, true
	}
	return nil, false
}

// durationOf reads a duration as the collector would: a string such as "10s"
// in a file, nanoseconds in an effective configuration marshaled from the
// component's config struct.
func durationOf(v any) (time.Duration, bool) {
	switch d := v.(type) {
	case time.Duration:
		return d, true
	case string:
		parsed, err := time.ParseDuration(d)
		return parsed, err == nil
	case int:
		return time.Duration(d), true
	case int64:
		return time.Duration(d), true
	case uint64:
		return time.Duration(d), true
	case float64:
		return time.Duration(d), true
	}
	return 0, false
}

// intOf reads an integer written as a number or as a string of digits (an
// env var expanded inside a longer string stays a string).
func intOf(v any) (int64, bool) {
	switch n := v.(type) {
	case int:
		return int64(n), true
	case int64:
		return n, true
	case uint64:
		return int64(n), true
	case uint:
		return int64(n), true
	// An effective configuration holds the components' own types
	// (memory_limiter's limit_mib is a uint32).
	case int32:
		return int64(n), true
	case uint32:
		return int64(n), true
	case int16:
		return int64(n), true
	case uint16:
		return int64(n), true
	case int8:
		return int64(n), true
	case uint8:
		return int64(n), true
	case float32:
		return int64(n), true
	case float64:
		return int64(n), true
	case string:
		i, err := strconv.ParseInt(n, 10, 64)
		return i, err == nil
	}
	return 0, false
}

func boolOf(v any) (bool, bool) {
	switch b := v.(type) {
	case bool:
		return b, true
	case string:
		parsed, err := strconv.ParseBool(b)
		return parsed, err == nil
	}
	return false, false
}
