package localtopo

import (
	"net"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestPlanLaysOutAddressesAndSharedResolver(t *testing.T) {
	topo, err := Plan(Options{Net: "127.0.40", Gateways: 3, ConfigDir: "configs", WorkDir: "/w",
		Env: map[string]string{"DECISION_WAIT": "1s"}})
	require.NoError(t, err)

	assert.Equal(t, "127.0.40.10", topo.Agent.Host)
	assert.Equal(t, "127.0.40.20", topo.Sink.Host)
	require.Len(t, topo.Gateways, 3)
	wantResolver := "{static: {hostnames: [127.0.40.11:4317, 127.0.40.12:4317, 127.0.40.13:4317]}}"
	for i, gw := range topo.Gateways {
		assert.Equal(t, net.IPv4(127, 0, 40, byte(11+i)).String(), gw.Host)
		assert.Equal(t, wantResolver, gw.Env["GATEWAY_RESOLVER"], "gateways and agent read one member list")
		assert.Equal(t, "127.0.40.20:4317", gw.Env["BACKEND_ENDPOINT"])
		assert.Equal(t, "1s", gw.Env["DECISION_WAIT"])
		assert.Equal(t, gw.Host, gw.Env["POD_IP"])
		assert.Contains(t, gw.Listens, Listen{"stickycheck peer", gw.Addr(PortPeer)}, "the audit's peer port is checked free too")
	}
	assert.Equal(t, wantResolver, topo.Agent.Env["GATEWAY_RESOLVER"])
	assert.Equal(t, "configs/agent.yaml", topo.Agent.Config)
	assert.Equal(t, "/w/sink.jsonl", topo.Sink.Env["SINK_FILE"])

	names := []string{}
	for _, m := range topo.Members() {
		names = append(names, m.Name)
	}
	assert.Equal(t, []string{"sink", "gateway-1", "gateway-2", "gateway-3", "agent"}, names, "backends start before what sends to them")
	assert.Empty(t, topo.Sidecars)
}

func TestPlanPutsSidecarsOnTheGatewaysRing(t *testing.T) {
	topo, err := Plan(Options{Net: "127.0.40", Gateways: 2, Sidecars: 2, ConfigDir: "configs", WorkDir: "/w", SidecarBin: "/dist/sidecar"})
	require.NoError(t, err)
	require.Len(t, topo.Sidecars, 2)
	assert.Empty(t, topo.Agent.Bin, "the agent runs the topology's binary")
	for i, sc := range topo.Sidecars {
		assert.Equal(t, "/dist/sidecar", sc.Bin, "a sidecar runs SidecarBin")
		host := net.IPv4(127, 0, 40, byte(30+i)).String()
		assert.Equal(t, host, sc.Host)
		assert.Equal(t, "configs/sidecar.yaml", sc.Config)
		assert.Equal(t, host, sc.Env["LISTEN_HOST"], "OTLP and self-telemetry on its own address, not localhost")
		assert.Equal(t, host, sc.Env["POD_IP"])
		assert.Equal(t, topo.Agent.Env["GATEWAY_RESOLVER"], sc.Env["GATEWAY_RESOLVER"], "the agent's ring")
		assert.Equal(t, "127.0.40.11:4317", sc.Env["GATEWAY_ENDPOINT"])
		assert.Contains(t, sc.Listens, Listen{"OTLP/gRPC", host + ":4317"})
	}
	names := []string{}
	for _, m := range topo.Members() {
		names = append(names, m.Name)
	}
	assert.Equal(t, []string{"sink", "gateway-1", "gateway-2", "sidecar-1", "sidecar-2", "agent"}, names)
}

func TestPlanRejectsBadOptions(t *testing.T) {
	_, err := Plan(Options{Net: "10.0.0", Gateways: 3})
	assert.ErrorContains(t, err, `net: "10.0.0" is not the prefix of an IPv4 loopback network`)
	_, err = Plan(Options{Net: "127.0.0", Gateways: 0})
	assert.ErrorContains(t, err, "gateways: 0 out of range 1..9")
	_, err = Plan(Options{Net: "127.0.0", Gateways: 1, Sidecars: 10})
	assert.ErrorContains(t, err, "sidecars: 10 out of range 0..9")
}

func TestCheckPortsFreeNamesTheTakenPort(t *testing.T) {
	topo, err := Plan(Options{Net: "127.0.41", Gateways: 1})
	require.NoError(t, err)
	require.NoError(t, CheckPortsFree(topo.Members()))

	ln, err := net.Listen("tcp", "127.0.41.20:13133")
	require.NoError(t, err)
	defer ln.Close()
	assert.ErrorContains(t, CheckPortsFree(topo.Members()), "port 127.0.41.20:13133 (health_check of sink) is already in use")
}

// Every gateway gets the same peer token, a new one per topology unless the
// environment gives one; the agent and the sink get none.
func TestPlanSharesOnePeerTokenAmongTheGateways(t *testing.T) {
	a, err := Plan(Options{Net: "127.0.40", Gateways: 3, WorkDir: "/w"})
	require.NoError(t, err)
	b, err := Plan(Options{Net: "127.0.40", Gateways: 3, WorkDir: "/w"})
	require.NoError(t, err)
	assert.Regexp(t, `^sckp-[0-9a-f]{64}$`, a.PeerToken)
	assert.NotEqual(t, a.PeerToken, b.PeerToken, "a new token per topology")
	for _, gw := range a.Gateways {
		assert.Equal(t, a.PeerToken, gw.Env[PeerTokenEnv])
	}
	assert.NotContains(t, a.Agent.Env, PeerTokenEnv)
	assert.NotContains(t, a.Sink.Env, PeerTokenEnv)

	given, err := Plan(Options{Net: "127.0.40", Gateways: 2, WorkDir: "/w", Env: map[string]string{PeerTokenEnv: "mine"}})
	require.NoError(t, err)
	assert.Equal(t, "mine", given.PeerToken)
	assert.Equal(t, "mine", given.Gateways[1].Env[PeerTokenEnv])
}
