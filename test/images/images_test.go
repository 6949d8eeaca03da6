package images

import (
	"context"
	"crypto/sha256"
	"debug/buildinfo"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

type cyclonedx struct {
	BOMFormat   string `json:"bomFormat"`
	SpecVersion string `json:"specVersion"`
	Metadata    struct {
		Component struct {
			Name, Version string
		}
	}
	Components []struct {
		Name, Version, Purl string
		Pedigree            struct {
			Ancestors []struct{ Name, Version string }
			Notes     string
		}
		// cyclonedx-gomod -licenses puts what it read from the module's
		// files under evidence, not as a declared license.
		Evidence struct {
			Licenses []struct {
				License struct{ ID string } `json:"license"`
			}
		}
	}
}

// Each SBOM lists every module its binary links, at the version linked.
func TestSBOMListsItsBinarysModules(t *testing.T) {
	sboms, err := filepath.Glob(root("build", "images", "*.cdx.json"))
	require.NoError(t, err)
	require.NotEmpty(t, sboms, "no SBOM in build/images (make images-test-files)")
	for _, file := range sboms {
		name := strings.TrimSuffix(filepath.Base(file), ".cdx.json")
		t.Run(name, func(t *testing.T) {
			raw, err := os.ReadFile(file)
			require.NoError(t, err)
			var bom cyclonedx
			require.NoError(t, json.Unmarshal(raw, &bom))
			assert.Equal(t, "CycloneDX", bom.BOMFormat)
			info, err := buildinfo.ReadFile(dist(t, name))
			require.NoError(t, err)
			assert.Equal(t, info.Main.Path, bom.Metadata.Component.Name)
			purls := map[string]bool{}
			pedigrees := map[string]string{} // a lean copy's upstream module → its version in the SBOM
			licensed := 0
			for _, c := range bom.Components {
				purls[strings.SplitN(c.Purl, "?", 2)[0]] = true
				if len(c.Evidence.Licenses) > 0 {
					licensed++
				}
				if len(c.Pedigree.Ancestors) == 1 && c.Pedigree.Ancestors[0].Name == c.Name && strings.Contains(c.Pedigree.Notes, "removed") {
					pedigrees[c.Name] = c.Pedigree.Ancestors[0].Version
				}
			}
			for _, d := range info.Deps {
				switch {
				case d.Replace != nil && strings.HasPrefix(d.Replace.Path, "../lean/"):
					// A lean variant (tiers.yaml): named as its upstream
					// module, with a pedigree saying what was changed.
					assert.Equal(t, d.Version, pedigrees[d.Path], "%s: the lean copy of %s is not named by its upstream module with a pedigree", name, d.Path)
				case d.Replace != nil:
					// our own module, replaced by the repository
				default:
					assert.True(t, purls["pkg:golang/"+d.Path+"@"+d.Version], "%s: %s %s not in the SBOM", name, d.Path, d.Version)
				}
			}
			assert.Greater(t, licensed, len(bom.Components)/2, "licenses resolved for most modules")
		})
	}
}

func docker(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
	require.NoError(t, err, "docker %v: %s", args, out)
	return strings.TrimSpace(string(out))
}

// Every image carries the OCI labels and its SBOM's digest, runs as 10001,
// says its architecture; the sidecar image holds the goal, at most 48 MB
// (README, "Images per tier"), and at most half the all-in-one; the host's
// tier images validate their tier's config.
func TestImagesLabelledAndSized(t *testing.T) {
	if err := testbed.DockerAvailable(context.Background()); err != nil {
		t.Skipf("no Docker engine answers: %v", err)
	}
	ids, err := filepath.Glob(root("build", "images", "*.id"))
	require.NoError(t, err)
	var names []string
	for _, f := range ids {
		names = append(names, strings.TrimSuffix(filepath.Base(f), ".id"))
	}
	for _, want := range []string{"otelcol-tiered-sidecar-linux-" + runtime.GOARCH, "otelcol-tiered-sidecar-linux-arm64", "otelcol-tiered-linux-" + runtime.GOARCH} {
		require.Contains(t, names, want, "image not built (make images-test; make test does)")
	}
	revision, err := exec.Command("git", "-C", testbed.RepoRoot(), "rev-parse", "HEAD").Output()
	require.NoError(t, err)
	allInOneID, err := os.ReadFile(root("build", "images", "otelcol-tiered-linux-"+runtime.GOARCH+".id"))
	require.NoError(t, err)
	allInOne := docker(t, "image", "inspect", "--format", "{{.Size}}", strings.TrimSpace(string(allInOneID)))
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			id, err := os.ReadFile(root("build", "images", name+".id"))
			require.NoError(t, err)
			img := strings.TrimSpace(string(id))
			var cfg struct {
				Architecture, Os string
				Size             int64
				Config           struct {
					User       string
					Entrypoint []string
					Labels     map[string]string
				}
			}
			require.NoError(t, json.Unmarshal([]byte(docker(t, "image", "inspect", "--format", "{{json .}}", img)), &cfg))
			arch := name[strings.LastIndex(name, "-")+1:]
			assert.Equal(t, "linux", cfg.Os)
			assert.Equal(t, arch, cfg.Architecture, "image config's architecture")
			assert.Equal(t, "10001:10001", cfg.Config.User)
			assert.Equal(t, []string{"/otelcol-tiered"}, cfg.Config.Entrypoint)

			l := cfg.Config.Labels
			assert.Equal(t, "0.1.0", l["org.opencontainers.image.version"])
			assert.Equal(t, strings.TrimSpace(string(revision)), l["org.opencontainers.image.revision"])
			assert.Equal(t, "Apache-2.0", l["org.opencontainers.image.licenses"])
			assert.True(t, strings.HasPrefix(l["org.opencontainers.image.source"], "https://"), "source label %q", l["org.opencontainers.image.source"])
			_, err = time.Parse(time.RFC3339, l["org.opencontainers.image.created"])
			assert.NoError(t, err, "created label")
			sbom, err := os.ReadFile(root("build", "images", name+".cdx.json"))
			require.NoError(t, err, "the SBOM beside the image")
			sum := sha256.Sum256(sbom)
			assert.Equal(t, "sha256:"+hex.EncodeToString(sum[:]), l["com.github.otelcol-tiered.sbom.digest"], "the label names this SBOM")
			assert.Equal(t, name+".cdx.json", l["com.github.otelcol-tiered.sbom.file"])

			t.Logf("%s: %.1f MB", name, float64(cfg.Size)/1e6)
			if strings.HasPrefix(name, "otelcol-tiered-sidecar-") {
				all, err := strconv.ParseInt(allInOne, 10, 64)
				require.NoError(t, err)
				assert.LessOrEqual(t, cfg.Size, all/2, "the sidecar image: at most half the all-in-one's %d bytes", all)
				assert.LessOrEqual(t, cfg.Size, int64(48_000_000), "the sidecar image's goal: at most 48 MB")
			}
			if base := strings.TrimSuffix(name, "-linux-"+arch); arch == runtime.GOARCH && base != "otelcol-tiered" {
				tier := strings.TrimPrefix(base, "otelcol-tiered-")
				// The gateway's peer auth wants a token to validate.
				out, err := exec.Command("docker", "run", "--rm", "-e", "STICKYCHECK_PEER_TOKEN=validate", img, "validate", "--config", "/etc/otelcol-tiered/"+tier+".yaml").CombinedOutput()
				assert.NoError(t, err, "validate in the %s image: %s", tier, out)
			}
		})
	}
}
