package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

import (
	"context"
	"fmt"
	"net"
)

// resolveSelf turns "host:port" into "ipv4:port" through the system resolver
// (in a container, /etc/hosts maps its hostname to its address).
func resolveSelf(ctx context.Context, self string) (string, error) {
	host, port, err := net.SplitHostPort(self)
	if err != nil {
		return "", fmt.Errorf("self: %w", err)
	}
	addrs, err := net.DefaultResolver.LookupIPAddr(ctx, host)
	if err != nil {
		return "", fmt.Errorf("self: resolving %q: %w", host, err)
	}
	for _, a := range addrs {
		if v4 := a.IP.To4(); v4 != nil && !v4.IsLoopback() {
			return net.JoinHostPort(v4.String(), port), nil
		}
	}
	return "", fmt.Errorf("self: %q has no non-loopback IPv4 address (got %v)", host, addrs)
}
