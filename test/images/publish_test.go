package images

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otelcol-tiered/otelcol-tiered/internal/testbed"
)

// startRegistry runs tools/registry (an OCI registry in memory) on loopback.
func startRegistry(t *testing.T) string {
	t.Helper()
	bin := root(".tools", "registry")
	if _, err := os.Stat(bin); err != nil {
		t.Fatalf("%s not built (make images-test-files; make test does): %v", bin, err)
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0")
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	line, err := bufio.NewReader(stdout).ReadString('\n')
	require.NoError(t, err, "the registry's address")
	return strings.TrimSpace(line)
}

func getJSON(t *testing.T, url, accept string, into any) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	require.NoError(t, err)
	req.Header.Set("Accept", accept)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode, url)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(into), url)
}

// make publish (what the workflow runs, there against ghcr.io) pushes the
// sidecar for amd64 and arm64 and one multi-arch list over them, and names
// the digests cosign signs.
func TestPublishPushesAMultiArchList(t *testing.T) {
	if err := testbed.DockerAvailable(context.Background()); err != nil {
		t.Skipf("no Docker engine answers: %v", err)
	}
	addr := startRegistry(t)
	registry := addr + "/ci"
	name := "otelcol-tiered-sidecar"
	t.Cleanup(func() {
		for _, arch := range []string{"amd64", "arm64"} {
			_ = exec.Command("docker", "rmi", registry+"/"+name+":0.1.0-"+arch).Run()
		}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "make", "-C", testbed.RepoRoot(), "--no-print-directory", "publish",
		"REGISTRY="+registry, "IMAGE_ARCHES=amd64 arm64", "PUBLISH_IMAGES="+name).CombinedOutput()
	require.NoError(t, err, "make publish: %s", out)
	t.Logf("make publish:\n%s", out)

	published, err := os.ReadFile(root("build", "images", "published.txt"))
	require.NoError(t, err)
	lists := strings.Fields(string(published))
	require.Len(t, lists, 1, "one list per name")
	ref, digest, ok := strings.Cut(lists[0], "@")
	require.True(t, ok, lists[0])
	assert.Equal(t, registry+"/"+name, ref)

	const index = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json"
	const manifest = "application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json"
	var list struct {
		Manifests []struct {
			Digest   string
			Platform struct{ Architecture, OS string }
		}
	}
	getJSON(t, "http://"+addr+"/v2/ci/"+name+"/manifests/"+digest, index, &list)
	byArch := map[string]string{}
	for _, m := range list.Manifests {
		assert.Equal(t, "linux", m.Platform.OS)
		byArch[m.Platform.Architecture] = m.Digest
	}
	require.Len(t, byArch, 2, "the list's platforms: %+v", list.Manifests)

	perArch, err := os.ReadFile(root("build", "images", "published-arch.txt"))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSpace(string(perArch)), "\n")
	require.Len(t, lines, 2)
	for _, arch := range []string{"amd64", "arm64"} {
		// The image the list names for arch has a config that says arch.
		var m struct{ Config struct{ Digest string } }
		getJSON(t, "http://"+addr+"/v2/ci/"+name+"/manifests/"+byArch[arch], manifest, &m)
		var cfg struct{ Architecture string }
		getJSON(t, "http://"+addr+"/v2/ci/"+name+"/blobs/"+m.Config.Digest, "*/*", &cfg)
		assert.Equal(t, arch, cfg.Architecture)
		// published-arch.txt names that image by digest, with its SBOM.
		want := registry + "/" + name + "@" + byArch[arch] + " " + root("build", "images", name+"-linux-"+arch+".cdx.json")
		assert.Contains(t, lines, want)
	}
}
