package ring // import "github.com/otelcol-tiered/otelcol-tiered/internal/ring"

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/otelcol-tiered/otelcol-tiered/internal/confcheck"
)

// Sane minimums of the resolvers' durations: a DNS query every 100 ms is
// already a lot; a timeout below 10 ms never answers.
const (
	minDNSInterval = 100 * time.Millisecond
	minTimeout     = 10 * time.Millisecond
)

func (c *StaticConfig) validate() error {
	if len(c.Hostnames) == 0 {
		return errors.New("resolver::static::hostnames: must list at least one member")
	}
	var errs []error
	for i, h := range c.Hostnames {
		if strings.TrimSpace(h) == "" {
			errs = append(errs, fmt.Errorf("resolver::static::hostnames[%d]: empty member name", i))
		}
	}
	return errors.Join(errs...)
}

func (c *DNSConfig) validate() error {
	var errs []error
	if c.Hostname == "" {
		errs = append(errs, errors.New("resolver::dns::hostname: required"))
	}
	if err := confcheck.PortString("resolver::dns::port", c.Port, true); err != nil {
		errs = append(errs, err)
	}
	if err := confcheck.Duration("resolver::dns::interval", c.Interval, minDNSInterval, true); err != nil {
		errs = append(errs, err)
	}
	if err := confcheck.Duration("resolver::dns::timeout", c.Timeout, minTimeout, true); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

func (c *K8sConfig) validate() error {
	var errs []error
	if _, _, err := parseService(c.Service); err != nil {
		errs = append(errs, fmt.Errorf("resolver::k8s::service: %w", err))
	}
	for i, p := range c.Ports {
		if err := confcheck.Port(fmt.Sprintf("resolver::k8s::ports[%d]", i), int64(p)); err != nil {
			errs = append(errs, err)
		}
	}
	if err := confcheck.Duration("resolver::k8s::timeout", c.Timeout, minTimeout, true); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}
