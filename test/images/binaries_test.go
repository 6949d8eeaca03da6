package images

import (
	"debug/buildinfo"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-tiered/otelcol-tiered/internal/distro"
	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

func root(elem ...string) string {
	return filepath.Join(append([]string{testbed.RepoRoot()}, elem...)...)
}

// dist returns the path of a binary of build/dist, failing when it is missing.
func dist(t *testing.T, name string) string {
	t.Helper()
	p := root("build", "dist", name)
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("%s not built (run `make images-test-files`; make test does): %v", p, err)
	}
	return p
}

func tiers(t *testing.T) []distro.Tier {
	t.Helper()
	data, err := os.ReadFile(root("tiers.yaml"))
	require.NoError(t, err)
	tiers, err := distro.ParseTiers("tiers.yaml", data)
	require.NoError(t, err)
	return tiers
}

func components(t *testing.T, bin string) distro.Registry {
	t.Helper()
	out, err := exec.Command(bin, "components").Output()
	require.NoError(t, err, bin)
	reg, err := distro.ParseComponents(out)
	require.NoError(t, err, bin)
	return reg
}

func types(reg distro.Registry) map[string][]string {
	mods := map[string]map[string]bool{}
	for kind, m := range reg {
		mods[kind] = map[string]bool{}
		for _, gomod := range m {
			mods[kind][gomod] = true
		}
	}
	return reg.Types(mods)
}

// Each tier binary registers exactly what its config declares plus its
// extras (no more: the point of a tier image), and validates its config.
func TestTierBinaryHoldsItsTiersComponents(t *testing.T) {
	all := components(t, testbed.Binary(t))
	// Our module's components told apart by package, as cmd/tiermanifest does.
	data, err := os.ReadFile(root("build", "builder-config.yaml"))
	require.NoError(t, err, "make manifest")
	m, err := distro.ParseManifest(data)
	require.NoError(t, err)
	require.NoError(t, all.RefineLocal(m, root()))
	for _, tier := range tiers(t) {
		t.Run(tier.Name, func(t *testing.T) {
			config, err := os.ReadFile(root(tier.Config))
			require.NoError(t, err)
			plan, err := distro.PlanTier(all, "tiers.yaml", tier, config)
			require.NoError(t, err)
			bin := dist(t, "otelcol-tiered-"+tier.Name+"-linux-"+runtime.GOARCH)
			assert.Equal(t, plan.Types, types(components(t, bin)), "components of %s", bin)

			cmd := exec.Command(bin, "validate", "--config", root(tier.Config))
			// The gateway's peer auth wants a token to validate.
			cmd.Env = append(os.Environ(), "STICKYCHECK_PEER_TOKEN=validate")
			out, err := cmd.CombinedOutput()
			assert.NoErrorf(t, err, "%s validate --config %s: %s", filepath.Base(bin), tier.Config, out)
		})
	}
}

// The sidecar binary lacks what only the gateway uses: its validate names
// the missing component (what a config beyond the image's set would meet).
// stickycheck comes first: our module's other processor, exportguard, is in
// the sidecar, stickycheck is not (RefineLocal).
func TestSidecarBinaryRejectsTheGatewayConfig(t *testing.T) {
	bin := dist(t, "otelcol-tiered-sidecar-linux-"+runtime.GOARCH)
	out, err := exec.Command(bin, "validate", "--config", root("configs", "gateway.yaml")).CombinedOutput()
	require.Error(t, err, "the sidecar binary validated the gateway config: it holds the gateway's components")
	assert.Contains(t, string(out), `unknown type: "stickycheck"`, "the error names the missing component")
}

// The sidecar's load_balancing is the lean variant (tiers.yaml): a config
// naming the k8s or aws_cloud_map resolver fails at load, naming the field;
// the dns form the sidecar uses in Kubernetes and the static one validate.
// The all-in-one (upstream's load_balancing) takes the k8s resolver.
func TestSidecarBinaryRefusesTheResolversItLacks(t *testing.T) {
	bin := dist(t, "otelcol-tiered-sidecar-linux-"+runtime.GOARCH)
	validate := func(bin, resolver string) (string, error) {
		cmd := exec.Command(bin, "validate", "--config", root("configs", "sidecar.yaml"))
		cmd.Env = append(os.Environ(), "GATEWAY_RESOLVER="+resolver)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	for field, resolver := range map[string]string{
		"k8s":           "{k8s: {service: otel-gateway-headless.observability, ports: [4317]}}",
		"aws_cloud_map": "{aws_cloud_map: {namespace: observability, service_name: otel-gateway}}",
	} {
		out, err := validate(bin, resolver)
		require.Error(t, err, "the sidecar validated a %s resolver", field)
		assert.Contains(t, out, "exporters::load_balancing::resolver::"+field+": not built into this image", "names the field")
		assert.Contains(t, out, "use dns or static, or the agent/gateway image")
	}
	for _, resolver := range []string{
		`{dns: {hostname: otel-gateway-headless.observability.svc.cluster.local, port: "4317", interval: 5s}}`,
		"{static: {hostnames: [127.0.0.11:4317]}}",
	} {
		out, err := validate(bin, resolver)
		assert.NoError(t, err, "%s: %s", resolver, out)
	}
	out, err := validate(testbed.Binary(t), "{k8s: {service: otel-gateway-headless.observability, ports: [4317]}}")
	assert.NoError(t, err, "the all-in-one's upstream load_balancing takes the k8s resolver: %s", out)
}

// The sidecar's goal (README, "Images per tier"): an image of at most 48 MB.
// The binary's size is deterministic (a reproducible build), so it is held
// here with the image's other files' room (CA bundle, configs: 0.3 MB)
// subtracted; and it links neither client-go's clientset, controller-runtime
// nor the AWS SDK's clients, whose return would cost about 30 MB.
func TestSidecarBinaryStaysSmall(t *testing.T) {
	const limit = 47_700_000
	for _, arch := range []string{runtime.GOARCH, "arm64"} {
		bin := dist(t, "otelcol-tiered-sidecar-linux-"+arch)
		st, err := os.Stat(bin)
		require.NoError(t, err)
		t.Logf("%s: %.2f MB", filepath.Base(bin), float64(st.Size())/1e6)
		assert.LessOrEqual(t, st.Size(), int64(limit), "%s: larger than the sidecar image's goal allows", bin)
		info, err := buildinfo.ReadFile(bin)
		require.NoError(t, err)
		for _, d := range info.Deps {
			for _, heavy := range []string{"sigs.k8s.io/controller-runtime", "github.com/aws/aws-sdk-go-v2/config", "k8s.io/api"} {
				assert.NotEqual(t, heavy, d.Path, "%s links %s", filepath.Base(bin), heavy)
			}
			if d.Path == "github.com/open-telemetry/opentelemetry-collector-contrib/exporter/loadbalancingexporter" {
				if assert.NotNil(t, d.Replace, "load_balancing is upstream's, not the lean copy") {
					assert.Equal(t, "../lean/loadbalancingexporter", d.Replace.Path)
				}
			}
		}
	}
}

// Every binary of build/dist is built with the release flags, holds no VCS
// state or path (reproducible), and, tiers and all-in-one alike, the same
// versions of every module they share.
func TestBinariesBuiltWithReleaseFlags(t *testing.T) {
	all, err := buildinfo.ReadFile(testbed.Binary(t))
	require.NoError(t, err)
	allDeps := map[string]string{}
	for _, d := range all.Deps {
		allDeps[d.Path] = d.Version
	}
	bins, err := filepath.Glob(root("build", "dist", "otelcol-tiered*-linux-*"))
	require.NoError(t, err)
	require.NotEmpty(t, bins, "no binary in build/dist (make images-test-files)")
	for _, bin := range append(bins, testbed.Binary(t)) {
		info, err := buildinfo.ReadFile(bin)
		require.NoError(t, err, bin)
		settings := map[string]string{}
		for _, s := range info.Settings {
			settings[s.Key] = s.Value
		}
		name := filepath.Base(bin)
		assert.Equal(t, "true", settings["-trimpath"], "%s: -trimpath", name)
		assert.Equal(t, "grpcnotrace", settings["-tags"], "%s: build tags", name)
		assert.Equal(t, "0", settings["CGO_ENABLED"], "%s: CGO", name)
		// -ldflags "-s -w": with -trimpath Go does not record ldflags, so
		// read the ELF: no symbol table (-s), no DWARF (-w).
		f, err := elf.Open(bin)
		require.NoError(t, err, bin)
		for _, sec := range []string{".symtab", ".debug_info"} {
			assert.Nil(t, f.Section(sec), "%s: has %s (not built with -s -w)", name, sec)
		}
		f.Close()
		for k := range settings {
			assert.False(t, strings.HasPrefix(k, "vcs"), "%s: holds VCS state %s (-buildvcs=false)", name, k)
		}
		if arch := name[strings.LastIndex(name, "-")+1:]; name != "otelcol-tiered" {
			assert.Equal(t, arch, settings["GOARCH"], "%s: GOARCH", name)
		}
		for _, d := range info.Deps {
			if v, ok := allDeps[d.Path]; ok {
				assert.Equal(t, v, d.Version, "%s: %s at another version than in the all-in-one", name, d.Path)
			}
		}
	}
}

// The arm64 sidecar is a static aarch64 ELF executable.
func TestArm64SidecarIsAnAarch64Binary(t *testing.T) {
	f, err := elf.Open(dist(t, "otelcol-tiered-sidecar-linux-arm64"))
	require.NoError(t, err)
	defer f.Close()
	assert.Equal(t, elf.EM_AARCH64, f.Machine)
	assert.Equal(t, elf.ELFCLASS64, f.Class)
	assert.Equal(t, elf.ET_EXEC, f.Type)
	for _, p := range f.Progs {
		assert.NotEqual(t, elf.PT_INTERP, p.Type, "dynamically linked (CGO on?)")
	}
}
