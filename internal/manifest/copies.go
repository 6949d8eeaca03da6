package manifest // import "github.com/otelcol-tiered/otelcol-tiered/internal/manifest"

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Copy is a generated copy of a tier config of configs/ (the one source)
// inside a deployment tool's own tree, where the tool can read it:
// kustomize's default load restrictor reads no file outside a
// kustomization's root, and a Helm values file must hold the config itself.
// `make k8s-configs` writes the copies; a test fails while one is stale.
type Copy struct {
	// Source is the tier config, relative to the repository root.
	Source string
	// Dest is the copy, relative to the repository root.
	Dest string
	// ValuesKey, when set, makes Dest a Helm values file: its hand-written
	// head, up to and including the marker line, then ValuesKey with Source
	// indented below it. Empty: Dest is Source, byte for byte.
	ValuesKey string
}

// Marker ends the hand-written head of a generated Helm values file.
const Marker = "# ---- generated from %s by `make k8s-configs`: do not edit below ----"

// Copies are the generated copies of the repository.
var Copies = []Copy{
	{Source: "configs/agent.yaml", Dest: "deploy/k8s/tiers/agent/agent.yaml"},
	{Source: "configs/gateway.yaml", Dest: "deploy/k8s/tiers/gateway/gateway.yaml"},
	{Source: "configs/sidecar.yaml", Dest: "deploy/k8s/tiers/sidecar/sidecar.yaml"},
	// The opt-in agent queue on the node (README, "Agents: a persistent queue on the node").
	{Source: "configs/overlays/agent-persistent-queue.yaml", Dest: "deploy/k8s/components/agent-persistent-queue/agent-persistent-queue.yaml"},
	{Source: "configs/agent.yaml", Dest: "deploy/helm/values-agent.yaml", ValuesKey: "alternateConfig"},
	{Source: "configs/gateway.yaml", Dest: "deploy/helm/values-gateway.yaml", ValuesKey: "alternateConfig"},
}

// Want returns what c.Dest must hold, given the repository root.
func (c Copy) Want(root string) ([]byte, error) {
	src, err := os.ReadFile(filepath.Join(root, c.Source))
	if err != nil {
		return nil, err
	}
	if c.ValuesKey == "" {
		return src, nil
	}
	cur, err := os.ReadFile(filepath.Join(root, c.Dest))
	if err != nil {
		return nil, fmt.Errorf("%s: the hand-written head of the values file: %w", c.Dest, err)
	}
	marker := fmt.Sprintf(Marker, c.Source)
	head, _, ok := bytes.Cut(cur, []byte(marker+"\n"))
	if !ok {
		return nil, fmt.Errorf("%s: no line %q ends its hand-written head", c.Dest, marker)
	}
	var out bytes.Buffer
	out.Write(head)
	out.WriteString(marker + "\n" + c.ValuesKey + ":\n")
	for _, line := range strings.SplitAfter(string(src), "\n") {
		if strings.TrimSpace(line) != "" {
			out.WriteString("  ")
		}
		out.WriteString(line)
	}
	return out.Bytes(), nil
}

// Stale returns, one error each, the copies under root that differ from
// what their source makes of them.
func Stale(root string, copies []Copy) error {
	var errs []error
	for _, c := range copies {
		want, err := c.Want(root)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		got, err := os.ReadFile(filepath.Join(root, c.Dest))
		if err != nil || !bytes.Equal(got, want) {
			errs = append(errs, fmt.Errorf("%s is not the copy of %s: run `make k8s-configs`", c.Dest, c.Source))
		}
	}
	return errors.Join(errs...)
}

// Write brings every copy under root in step with its source and returns
// the ones it changed.
func Write(root string, copies []Copy) ([]string, error) {
	var changed []string
	for _, c := range copies {
		want, err := c.Want(root)
		if err != nil {
			return changed, err
		}
		path := filepath.Join(root, c.Dest)
		if got, err := os.ReadFile(path); err == nil && bytes.Equal(got, want) {
			continue
		}
		if err := os.WriteFile(path, want, 0o644); err != nil {
			return changed, err
		}
		changed = append(changed, c.Dest)
	}
	return changed, nil
}
