package tierrules // import "github.com/otelcol-tiered/otelcol-tiered/internal/tierrules"

import (
	"errors"
	"net"
	"strconv"
)

// SelfTelemetryURL is where the collector serves its own metrics: the first
// pull Prometheus reader of service::telemetry::metrics, as
// http://host:port/metrics (an unspecified host read on loopback).
func (c *Config) SelfTelemetryURL() (string, error) {
	metrics, _ := asMap(c.Telemetry["metrics"])
	if level, _ := metrics["level"].(string); level == "none" {
		return "", errors.New("service::telemetry::metrics::level is none: the collector counts nothing to measure")
	}
	readers, _ := metrics["readers"].([]any)
	for _, r := range readers {
		rm, _ := asMap(r)
		prom, ok := lookupMap(rm, "pull", "exporter", "prometheus")
		if !ok {
			continue
		}
		host, _ := prom["host"].(string)
		switch host {
		case "", "0.0.0.0":
			host = "127.0.0.1"
		case "::", "[::]":
			host = "::1"
		}
		port, ok := intOf(prom["port"])
		if !ok || port <= 0 {
			continue
		}
		return "http://" + net.JoinHostPort(host, strconv.FormatInt(port, 10)) + "/metrics", nil
	}
	return "", errors.New("no pull Prometheus reader in service::telemetry::metrics::readers: add one (the shipped configs serve port 8888) to measure rates")
}

// lookupMap follows keys through nested maps to a map.
func lookupMap(m map[string]any, keys ...string) (map[string]any, bool) {
	for _, k := range keys {
		var ok bool
		if m, ok = asMap(m[k]); !ok {
			return nil, false
		}
	}
	return m, true
}
