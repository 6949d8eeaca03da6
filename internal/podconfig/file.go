package podconfig // import "github.com/otelcol-tiered/otelcol-tiered/internal/podconfig"

import (
	"errors"
	"fmt"
	"path"
	"strings"

	corev1 "k8s.io/api/core/v1"
)

// ConfigPath returns the file the container's --config flag names, after the
// kubelet's $(VAR) expansion of the arguments with env. Exactly one --config
// is expected, a path or a file: URI.
func ConfigPath(c *corev1.Container, env map[string]string) (string, error) {
	args := append(append([]string{}, c.Command...), c.Args...)
	var paths []string
	for i := 0; i < len(args); i++ {
		a := Expand(args[i], env)
		switch {
		case strings.HasPrefix(a, "--config="):
			paths = append(paths, strings.TrimPrefix(a, "--config="))
		case a == "--config" && i+1 < len(args):
			i++
			paths = append(paths, Expand(args[i], env))
		}
	}
	if len(paths) != 1 {
		return "", fmt.Errorf("container %s: want exactly one --config argument, got %d (%q)", c.Name, len(paths), args)
	}
	p := strings.TrimPrefix(paths[0], "file:")
	if strings.Contains(p, ":") || !path.IsAbs(p) {
		return "", fmt.Errorf("container %s: --config %q is not an absolute file path", c.Name, paths[0])
	}
	return p, nil
}

// MountedFile returns the content of file as container c sees it, when a
// ConfigMap volume provides it: the mount with the longest path holding file
// (or the subPath mount at file), its volume, the key (through items when
// the volume lists them) and the ConfigMap among configMaps.
func MountedFile(spec *corev1.PodSpec, c *corev1.Container, file string, configMaps map[string]*corev1.ConfigMap) (string, error) {
	var best *corev1.VolumeMount
	var rel string
	for i := range c.VolumeMounts {
		m := &c.VolumeMounts[i]
		mp := path.Clean(m.MountPath)
		switch {
		case m.SubPath != "" && mp == path.Clean(file):
			best, rel = m, m.SubPath
		case m.SubPath == "" && strings.HasPrefix(file, mp+"/") && (best == nil || len(mp) > len(path.Clean(best.MountPath))):
			best, rel = m, strings.TrimPrefix(file, mp+"/")
		}
	}
	if best == nil {
		return "", fmt.Errorf("container %s: no volume is mounted at %s", c.Name, file)
	}
	var vol *corev1.Volume
	for i := range spec.Volumes {
		if spec.Volumes[i].Name == best.Name {
			vol = &spec.Volumes[i]
		}
	}
	if vol == nil {
		return "", fmt.Errorf("container %s: mount %s names volume %q, which the pod does not have", c.Name, best.MountPath, best.Name)
	}
	if vol.ConfigMap == nil {
		return "", fmt.Errorf("container %s: volume %q at %s is not a ConfigMap", c.Name, vol.Name, best.MountPath)
	}
	key := rel
	if len(vol.ConfigMap.Items) > 0 {
		key = ""
		for _, it := range vol.ConfigMap.Items {
			if it.Path == rel {
				key = it.Key
			}
		}
		if key == "" {
			return "", fmt.Errorf("container %s: volume %q lists no item at path %q", c.Name, vol.Name, rel)
		}
	}
	cm, ok := configMaps[vol.ConfigMap.Name]
	if !ok {
		return "", fmt.Errorf("container %s: volume %q names ConfigMap %q, which is not in the rendered objects", c.Name, vol.Name, vol.ConfigMap.Name)
	}
	text, ok := cm.Data[key]
	if !ok {
		return "", fmt.Errorf("container %s: ConfigMap %s has no key %q (for %s)", c.Name, cm.Name, key, file)
	}
	return text, nil
}

// View is a collector container of a rendered manifest as its pod sees it.
type View struct {
	Container *corev1.Container
	Env       map[string]string
	// ConfigPath is the file --config names, ConfigText its content.
	ConfigPath, ConfigText string
	Config                 *Resolved
}

// Load builds the View of container in spec for pod: its environment, its
// config file and the config resolved with that environment.
func Load(spec *corev1.PodSpec, container string, pod Pod, configMaps map[string]*corev1.ConfigMap) (*View, error) {
	c, err := Container(spec, container)
	if err != nil {
		return nil, err
	}
	env, err := Env(spec, container, pod, configMaps)
	if err != nil {
		return nil, err
	}
	p, err := ConfigPath(c, env)
	if err != nil {
		return nil, err
	}
	text, err := MountedFile(spec, c, p, configMaps)
	if err != nil {
		return nil, err
	}
	res, err := Resolve(text, env)
	if err != nil {
		return nil, errors.Join(fmt.Errorf("container %s: config %s", container, p), err)
	}
	return &View{Container: c, Env: env, ConfigPath: p, ConfigText: text, Config: res}, nil
}
