package testbed // import "github.com/otelcol-tiered/otelcol-tiered/internal/testbed"

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/otelcol-tiered/otelcol-tiered/internal/localtopo"
)

// StartTopology starts agent → gateways → sink on the loopback network net
// (e.g. "127.0.1"; give each test its own) with the shipped configs, and stops
// it when the test ends. env is added to every member.
func StartTopology(t testing.TB, net string, gateways int, env map[string]string) *localtopo.Running {
	t.Helper()
	return StartLocalTopology(t, localtopo.Options{Net: net, Gateways: gateways, Env: env})
}

// StartLocalTopology starts the topology o plans (sidecars included) and
// stops it when the test ends. An empty ConfigDir means the shipped configs,
// an empty WorkDir a directory of the test's own.
func StartLocalTopology(t testing.TB, o localtopo.Options) *localtopo.Running {
	t.Helper()
	if o.ConfigDir == "" {
		o.ConfigDir = filepath.Join(RepoRoot(), "configs")
	}
	if o.WorkDir == "" {
		o.WorkDir = t.TempDir()
	}
	topo, err := localtopo.Plan(o)
	if err != nil {
		t.Fatal(err)
	}
	run, err := localtopo.Start(context.Background(), Binary(t), topo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(run.Stop)
	return run
}
