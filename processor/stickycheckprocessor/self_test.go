package stickycheckprocessor

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestResolveSelfErrorsNameSelf(t *testing.T) {
	_, err := resolveSelf(context.Background(), "no-port")
	assert.ErrorContains(t, err, "self: address no-port: missing port in address")
	_, err = resolveSelf(context.Background(), "localhost:4317")
	assert.ErrorContains(t, err, `self: "localhost" has no non-loopback IPv4 address`)
	_, err = resolveSelf(context.Background(), "no-such-host.invalid:4317")
	assert.ErrorContains(t, err, `self: resolving "no-such-host.invalid"`)
}
