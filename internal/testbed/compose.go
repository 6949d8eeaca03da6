package testbed // import "github.com/otelcol-tiered/otelcol-tiered/internal/testbed"

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Labels docker compose (v1 and v2 alike) puts on what it creates.
const (
	labelProject = "com.docker.compose.project"
	labelService = "com.docker.compose.service"
	labelNumber  = "com.docker.compose.container-number"
)

// DockerAvailable returns nil when a Docker engine answers `docker info`, or
// an error with what docker said.
func DockerAvailable(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, "docker", "info", "--format", "{{.ServerVersion}}").CombinedOutput()
	if err != nil {
		return fmt.Errorf("docker info: %w: %s", err, bytes.TrimSpace(out))
	}
	return nil
}

// ComposeCommand returns the compose tool of this machine: `docker compose`
// (v2) when the plugin answers, else `docker-compose` (1.x).
func ComposeCommand(ctx context.Context) ([]string, error) {
	if exec.CommandContext(ctx, "docker", "compose", "version").Run() == nil {
		return []string{"docker", "compose"}, nil
	}
	if exec.CommandContext(ctx, "docker-compose", "version").Run() == nil {
		return []string{"docker-compose"}, nil
	}
	return nil, errors.New("neither `docker compose` nor `docker-compose` answers")
}

// Compose drives one docker compose project.
type Compose struct {
	Project string
	File    string
	// Env is added to the environment of every compose command (the
	// variables the compose file reads).
	Env map[string]string
	cmd []string
}

// NewCompose detects the compose tool and returns a driver for project.
func NewCompose(ctx context.Context, project, file string, env map[string]string) (*Compose, error) {
	cmd, err := ComposeCommand(ctx)
	if err != nil {
		return nil, err
	}
	return &Compose{Project: project, File: file, Env: env, cmd: cmd}, nil
}

// Tool is the compose command line in use, e.g. "docker-compose".
func (c *Compose) Tool() string { return strings.Join(c.cmd, " ") }

// Run runs a compose subcommand (`up -d`, `down`, ...) and returns its
// combined output.
func (c *Compose) Run(ctx context.Context, args ...string) ([]byte, error) {
	full := append(append([]string{}, c.cmd[1:]...), "-p", c.Project, "-f", c.File)
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, c.cmd[0], full...)
	cmd.Env = os.Environ()
	for k, v := range c.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("%s %s: %w\n%s", c.Tool(), strings.Join(args, " "), err, out)
	}
	return out, nil
}

// Down removes the project's containers, networks and volumes.
func (c *Compose) Down(ctx context.Context) error {
	_, err := c.Run(ctx, "down", "-v", "--remove-orphans", "-t", "60")
	return err
}

// Leftovers lists what of the project still exists: containers, networks and
// volumes carrying its label.
func (c *Compose) Leftovers(ctx context.Context) ([]string, error) {
	var left []string
	for _, kind := range []string{"container", "network", "volume"} {
		args := []string{kind, "ls", "-q", "--filter", "label=" + labelProject + "=" + c.Project}
		if kind == "container" {
			args = []string{"ps", "-a", "-q", "--filter", "label=" + labelProject + "=" + c.Project}
		}
		out, err := exec.CommandContext(ctx, "docker", args...).CombinedOutput()
		if err != nil {
			return nil, fmt.Errorf("docker %s: %w: %s", strings.Join(args, " "), err, out)
		}
		for _, id := range strings.Fields(string(out)) {
			left = append(left, kind+" "+id)
		}
	}
	return left, nil
}

// Container is one container of a compose service.
type Container struct {
	ID      string
	Name    string
	Number  int
	Running bool
	// IP is the container's address on its (first) network.
	IP string
	// Published maps a container port to the host address it is published
	// at ("127.0.0.1:32768").
	Published map[int]string
}

// Containers lists the containers of a service (all: also stopped ones),
// ordered by their compose number.
func (c *Compose) Containers(ctx context.Context, service string, all bool) ([]Container, error) {
	args := []string{"ps", "-q", "--filter", "label=" + labelProject + "=" + c.Project, "--filter", "label=" + labelService + "=" + service}
	if all {
		args = append(args, "-a")
	}
	out, err := exec.CommandContext(ctx, "docker", args...).Output()
	if err != nil {
		return nil, fmt.Errorf("docker ps: %w", err)
	}
	ids := strings.Fields(string(out))
	if len(ids) == 0 {
		return nil, nil
	}
	return InspectContainers(ctx, ids...)
}

// InspectContainers reads containers by ID or name with `docker inspect`.
// Containers removed meanwhile (a scale-in) are left out.
func InspectContainers(ctx context.Context, ids ...string) ([]Container, error) {
	cmd := exec.CommandContext(ctx, "docker", append([]string{"inspect"}, ids...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	// docker inspect exits 1 when any container is gone, and still prints
	// the others.
	if err != nil && !bytes.HasPrefix(bytes.TrimSpace(out), []byte("[")) {
		return nil, fmt.Errorf("docker inspect: %w: %s", err, bytes.TrimSpace(stderr.Bytes()))
	}
	var raw []struct {
		ID              string `json:"Id"`
		Name            string
		State           struct{ Running bool }
		Config          struct{ Labels map[string]string }
		NetworkSettings struct {
			Networks map[string]struct{ IPAddress string }
			Ports    map[string][]struct{ HostIP, HostPort string }
		}
	}
	if err := json.Unmarshal(out, &raw); err != nil {
		return nil, err
	}
	list := make([]Container, 0, len(raw))
	for _, r := range raw {
		ctr := Container{ID: r.ID, Name: strings.TrimPrefix(r.Name, "/"), Running: r.State.Running, Published: map[int]string{}}
		ctr.Number, _ = strconv.Atoi(r.Config.Labels[labelNumber])
		for _, n := range r.NetworkSettings.Networks {
			if n.IPAddress != "" {
				ctr.IP = n.IPAddress
				break
			}
		}
		for port, bindings := range r.NetworkSettings.Ports {
			p, err := strconv.Atoi(strings.TrimSuffix(port, "/tcp"))
			if err != nil || len(bindings) == 0 {
				continue
			}
			host := bindings[0].HostIP
			if host == "" || host == "0.0.0.0" {
				host = "127.0.0.1"
			}
			ctr.Published[p] = host + ":" + bindings[0].HostPort
		}
		list = append(list, ctr)
	}
	sort.Slice(list, func(i, j int) bool { return list[i].Number < list[j].Number })
	return list, nil
}

// Logs returns a container's output (stdout and stderr).
func Logs(ctx context.Context, id string) string {
	out, err := exec.CommandContext(ctx, "docker", "logs", id).CombinedOutput()
	if err != nil {
		return fmt.Sprintf("(docker logs %s: %v) %s", id, err, out)
	}
	return string(out)
}
