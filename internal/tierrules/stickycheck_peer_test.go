package tierrules

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func gatewayWith(stickycheck map[string]any, limiter map[string]any) map[string]any {
	return map[string]any{
		"extensions": map[string]any{"health_check": nil},
		"processors": map[string]any{"memory_limiter": limiter, "stickycheck": stickycheck, "batch": nil},
		"exporters":  map[string]any{"debug": nil},
		"service": map[string]any{
			"extensions": []any{"health_check"},
			"pipelines":  map[string]any{"traces": pipeline("memory_limiter", "stickycheck", "batch")},
		},
	}
}

func rulesOf(findings []Finding) []string {
	var ids []string
	for _, f := range findings {
		ids = append(ids, f.Rule)
	}
	return ids
}

func TestStickycheckPeerRules(t *testing.T) {
	limiter := map[string]any{"limit_mib": 1024}
	withAuth := map[string]any{"authenticator": "bearertokenauth/peer"}
	for name, tc := range map[string]struct {
		sc   map[string]any
		want []string
	}{
		"audit off":            {map[string]any{}, nil},
		"audit disabled":       {map[string]any{"audit": map[string]any{"enabled": "false"}}, nil},
		"audit empty, no auth": {map[string]any{"audit": nil}, []string{"stickycheck-peer-without-auth"}},
		"auth":                 {map[string]any{"audit": map[string]any{"peer": map[string]any{"server": map[string]any{"auth": withAuth}}}}, nil},
		"mutual tls":           {map[string]any{"audit": map[string]any{"peer": map[string]any{"server": map[string]any{"tls": map[string]any{"client_ca_file": "/ca.pem"}}}}}, nil},
		"server tls only":      {map[string]any{"audit": map[string]any{"peer": map[string]any{"server": map[string]any{"tls": map[string]any{"cert_file": "/c.pem"}}}}}, []string{"stickycheck-peer-without-auth"}},
		"table too large": {map[string]any{"audit": map[string]any{"max_traces": 8_000_000, "peer": map[string]any{"server": map[string]any{"auth": withAuth}}}},
			[]string{"stickycheck-audit-memory"}},
	} {
		t.Run(name, func(t *testing.T) {
			c := parse(t, gatewayWith(tc.sc, limiter))
			got := rulesOf(Check(c, Gateway, Facts{}))
			assert.Equal(t, tc.want, got)
		})
	}
	// The message says how large and against what.
	c := parse(t, gatewayWith(map[string]any{"audit": map[string]any{"max_traces": "8000000", "peer": map[string]any{"server": map[string]any{"auth": withAuth}}}}, limiter))
	f := Check(c, Gateway, Facts{})
	require.Len(t, f, 1)
	assert.Equal(t, "processor stickycheck: audit::max_traces 8000000 takes 326 MiB, more than 25 % of memory_limiter's limit_mib 1024", f[0].Message)
}
