package ring

import (
	"bufio"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const lbModule = "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/loadbalancingexporter"

// The ring of each generation names the same owner as the consistent_hashing.go
// of a contrib release of that generation, compiled as it is published (from
// the module proxy) with a small driver, for 100,000 random trace IDs and
// member strings of every resolver's form.
func TestGenerationsAgreeWithUpstreamSource(t *testing.T) {
	memberSets := map[string][]string{
		"static ip:port":       {"10.0.0.1:4317", "10.0.0.2:4317", "10.0.0.3:4317"},
		"dns bare ip":          {"10.1.2.3", "10.1.2.4", "10.1.2.5", "10.1.2.6", "[fd00::1]"},
		"k8s hostnames":        {"otel-gateway-0.otel-gateway-headless.observability:4317", "otel-gateway-1.otel-gateway-headless.observability:4317", "otel-gateway-2.otel-gateway-headless.observability:4317", "otel-gateway-3.otel-gateway-headless.observability:4317"},
		"ten members, 2 ports": tenMembers(),
	}
	ids := randomIDs(7, 100_000)
	for gen, version := range map[Generation]string{Current: "v0.159.0", V0130: "v0.150.0", V0129: "v0.129.0"} {
		t.Run(string(gen)+"="+version, func(t *testing.T) {
			driver := buildUpstreamDriver(t, version)
			for name, members := range memberSets {
				want := runUpstreamDriver(t, driver, members, ids)
				r := New(gen, members)
				mismatches := 0
				for i, id := range ids {
					if got := r.OwnerName(id); got != want[i] {
						if mismatches < 5 {
							t.Errorf("%s: trace %x: upstream %s, ours %s", name, id, want[i], got)
						}
						mismatches++
					}
				}
				require.Zerof(t, mismatches, "%s: %d of %d owners differ", name, mismatches, len(ids))
			}
		})
	}
}

func tenMembers() []string {
	var ms []string
	for i := 1; i <= 5; i++ {
		for _, port := range []string{"4317", "4318"} {
			ms = append(ms, fmt.Sprintf("10.0.1.%d:%s", i, port))
		}
	}
	return ms
}

func randomIDs(seed uint64, n int) [][16]byte {
	rng := rand.New(rand.NewPCG(seed, seed))
	ids := make([][16]byte, n)
	for i := range ids {
		for j := range ids[i] {
			ids[i][j] = byte(rng.Uint32())
		}
	}
	return ids
}

const driverMain = `package main

import (
	"bufio"
	"encoding/hex"
	"fmt"
	"os"
	"strings"
)

func main() {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<20)
	in.Scan()
	ring := newHashRing(strings.Split(in.Text(), ","))
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for in.Scan() {
		id, err := hex.DecodeString(in.Text())
		if err != nil {
			panic(err)
		}
		fmt.Fprintln(out, ring.endpointFor(id))
	}
}
`

// buildUpstreamDriver compiles the published consistent_hashing.go of the
// exporter at version into a program that answers owners on stdin/stdout.
func buildUpstreamDriver(t *testing.T, version string) string {
	t.Helper()
	dl := exec.Command("go", "mod", "download", "-json", lbModule+"@"+version)
	dl.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	out, err := dl.Output()
	require.NoErrorf(t, err, "go mod download %s@%s: %s", lbModule, version, out)
	var mod struct{ Dir string }
	require.NoError(t, json.Unmarshal(out, &mod))
	src, err := os.ReadFile(filepath.Join(mod.Dir, "consistent_hashing.go"))
	require.NoError(t, err)

	dir := t.TempDir()
	body := strings.Replace(string(src), "package loadbalancingexporter", "package main //", 1)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "consistent_hashing.go"), []byte(body), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "main.go"), []byte(driverMain), 0o600))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module oracle\n\ngo 1.22\n"), 0o600))
	bin := filepath.Join(dir, "oracle")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOWORK=off", "GOFLAGS=")
	out, err = build.CombinedOutput()
	require.NoErrorf(t, err, "build upstream ring %s: %s", version, out)
	return bin
}

func runUpstreamDriver(t *testing.T, bin string, members []string, ids [][16]byte) []string {
	t.Helper()
	var in strings.Builder
	in.WriteString(strings.Join(members, ",") + "\n")
	for _, id := range ids {
		in.WriteString(hex.EncodeToString(id[:]) + "\n")
	}
	cmd := exec.Command(bin)
	cmd.Stdin = strings.NewReader(in.String())
	out, err := cmd.Output()
	require.NoError(t, err)
	owners := make([]string, 0, len(ids))
	sc := bufio.NewScanner(strings.NewReader(string(out)))
	for sc.Scan() {
		owners = append(owners, sc.Text())
	}
	require.Len(t, owners, len(ids))
	return owners
}
