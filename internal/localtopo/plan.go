// Package localtopo plans and runs a tiered collector topology on loopback:
// one agent, N gateways, a sink and optionally sidecars, each a process of the built binary on its
// own 127.x address with the standard ports, the way pods each have an IP.
package localtopo // import "github.com/otelcol-tiered/otelcol-tiered/internal/localtopo"

import (
	"fmt"
	"net"
	"path/filepath"
	"strings"
)

// Standard ports every member listens on, at its own address.
const (
	PortOTLPGRPC = 4317
	PortOTLPHTTP = 4318
	PortMetrics  = 8888
	PortHealth   = 13133
	PortTopology = 13134
	// PortPeer is the gateways' stickycheck audit peer protocol.
	PortPeer = 4319
)

// Options shape a local topology.
type Options struct {
	// Net holds the first three octets of the loopback addresses, e.g. "127.0.0".
	// The agent gets .10, the gateways .11 onwards, the sink .20, the
	// sidecars .30 onwards.
	Net string
	// Gateways is the number of gateway replicas (1..9).
	Gateways int
	// Sidecars is the number of sidecars (0..9), each beside the agent: it
	// routes traces over the gateways' ring as the agent does.
	Sidecars int
	// ConfigDir holds agent.yaml, gateway.yaml, sidecar.yaml and sink.yaml.
	ConfigDir string
	// WorkDir receives each member's log, the gateways' queues and the sink file.
	WorkDir string
	// Env is added to every member's environment, after the planned variables,
	// e.g. DECISION_WAIT or SAMPLING_PERCENTAGE.
	Env map[string]string
	// SidecarBin runs the sidecars (e.g. the sidecar tier's binary); empty:
	// the topology's binary, as every other member.
	SidecarBin string
}

// Member is one collector process of the topology.
type Member struct {
	Name string
	// Bin is the collector binary that runs the member; empty: the binary
	// the topology is started with.
	Bin    string
	Config string
	// Overlays are config files merged over Config, in order (the collector
	// merges its --config files; a list is replaced by the later file's).
	Overlays []string
	// Prefix is a command the collector runs under, e.g. taskset -c 0.
	Prefix []string
	Host   string
	Env    map[string]string
	// LogFile receives the process's stdout and stderr.
	LogFile string
	// Listens names the ports the member binds, for the free-port check.
	Listens []Listen
}

// Listen is one address a member binds.
type Listen struct {
	Purpose string
	Addr    string
}

// Topology is a planned topology.
type Topology struct {
	Agent    Member
	Gateways []Member
	Sidecars []Member
	Sink     Member
	// SinkFile is where the sink writes what it receives (OTLP/JSON lines).
	SinkFile string
	// PeerToken is the gateways' STICKYCHECK_PEER_TOKEN: Options.Env's, or
	// one generated for this topology.
	PeerToken string
}

// Members lists the members in start order: the sink and the gateways before
// the sidecars and the agent, so that nothing sends to an address that is not
// yet listening.
func (t Topology) Members() []Member {
	ms := []Member{t.Sink}
	ms = append(ms, t.Gateways...)
	ms = append(ms, t.Sidecars...)
	return append(ms, t.Agent)
}

// Addr joins a member's host with a port.
func (m Member) Addr(port int) string { return net.JoinHostPort(m.Host, fmt.Sprint(port)) }

// Plan lays out the topology's addresses and environment.
func Plan(o Options) (Topology, error) {
	if o.Gateways < 1 || o.Gateways > 9 {
		return Topology{}, fmt.Errorf("gateways: %d out of range 1..9", o.Gateways)
	}
	if o.Sidecars < 0 || o.Sidecars > 9 {
		return Topology{}, fmt.Errorf("sidecars: %d out of range 0..9", o.Sidecars)
	}
	if ip := net.ParseIP(o.Net + ".1"); ip == nil || !ip.IsLoopback() || ip.To4() == nil {
		return Topology{}, fmt.Errorf("net: %q is not the prefix of an IPv4 loopback network (e.g. 127.0.0)", o.Net)
	}
	host := func(last int) string { return fmt.Sprintf("%s.%d", o.Net, last) }

	gatewayHosts := make([]string, o.Gateways)
	for i := range gatewayHosts {
		gatewayHosts[i] = net.JoinHostPort(host(11+i), fmt.Sprint(PortOTLPGRPC))
	}
	resolver := fmt.Sprintf("{static: {hostnames: [%s]}}", strings.Join(gatewayHosts, ", "))

	token := o.Env[PeerTokenEnv]
	if token == "" {
		var err error
		if token, err = NewPeerToken(); err != nil {
			return Topology{}, err
		}
	}
	t := Topology{SinkFile: filepath.Join(o.WorkDir, "sink.jsonl"), PeerToken: token}
	t.Sink = o.member("sink", "sink.yaml", host(20), map[string]string{"SINK_FILE": t.SinkFile})
	for i := range o.Gateways {
		name := fmt.Sprintf("gateway-%d", i+1)
		t.Gateways = append(t.Gateways, o.member(name, "gateway.yaml", host(11+i), map[string]string{
			"GATEWAY_RESOLVER": resolver,
			"GATEWAY_SELF":     gatewayHosts[i],
			"BACKEND_ENDPOINT": t.Sink.Addr(PortOTLPGRPC),
			"FILE_STORAGE_DIR": filepath.Join(o.WorkDir, name, "queue"),
			PeerTokenEnv:       token,
		}))
	}
	t.Agent = o.member("agent", "agent.yaml", host(10), map[string]string{
		"GATEWAY_RESOLVER": resolver,
		"GATEWAY_ENDPOINT": t.Gateways[0].Addr(PortOTLPGRPC),
	})
	for i := range o.Sidecars {
		// A sidecar listens on localhost in its pod; here on an address of its own.
		sc := o.member(fmt.Sprintf("sidecar-%d", i+1), "sidecar.yaml", host(30+i), map[string]string{
			"LISTEN_HOST":      host(30 + i),
			"GATEWAY_RESOLVER": resolver,
			"GATEWAY_ENDPOINT": t.Gateways[0].Addr(PortOTLPGRPC),
		})
		sc.Bin = o.SidecarBin
		t.Sidecars = append(t.Sidecars, sc)
	}
	return t, nil
}

func (o Options) member(name, config, host string, env map[string]string) Member {
	m := Member{
		Name:    name,
		Config:  filepath.Join(o.ConfigDir, config),
		Host:    host,
		Env:     map[string]string{"POD_IP": host, "POD_NAME": name},
		LogFile: filepath.Join(o.WorkDir, name+".log"),
	}
	for k, v := range env {
		m.Env[k] = v
	}
	for k, v := range o.Env {
		m.Env[k] = v
	}
	m.Listens = []Listen{
		{"OTLP/gRPC", m.Addr(PortOTLPGRPC)},
		{"OTLP/HTTP", m.Addr(PortOTLPHTTP)},
		{"self-telemetry", m.Addr(PortMetrics)},
		{"health_check", m.Addr(PortHealth)},
	}
	if name != "sink" {
		m.Listens = append(m.Listens, Listen{"topology", m.Addr(PortTopology)})
	}
	if config == "gateway.yaml" {
		m.Listens = append(m.Listens, Listen{"stickycheck peer", m.Addr(PortPeer)})
	}
	return m
}
