package localtopo // import "github.com/otelcol-tiered/otelcol-tiered/internal/localtopo"

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Running is a started topology.
type Running struct {
	Topology
	procs []*Process
}

// Process is one started member.
type Process struct {
	member Member
	cmd    *exec.Cmd
	done   chan struct{}
	err    error
}

// CheckPortsFree returns an error naming the first address of the plan that
// something else already listens on.
func CheckPortsFree(members []Member) error {
	for _, m := range members {
		for _, l := range m.Listens {
			ln, err := net.Listen("tcp", l.Addr)
			if err != nil {
				return fmt.Errorf("port %s (%s of %s) is already in use: %w", l.Addr, l.Purpose, m.Name, err)
			}
			_ = ln.Close()
		}
	}
	return nil
}

// Start checks that every port is free, starts each member and waits until
// its health endpoint answers. On any failure it stops what it started and
// returns an error with the tail of the failing member's log.
func Start(ctx context.Context, bin string, t Topology) (*Running, error) {
	if err := CheckPortsFree(t.Members()); err != nil {
		return nil, err
	}
	r := &Running{Topology: t}
	for _, m := range t.Members() {
		p, err := StartProcess(ctx, bin, m)
		if err != nil {
			r.Stop()
			return nil, err
		}
		r.procs = append(r.procs, p)
	}
	return r, nil
}

// StartProcess starts one member and waits until its health endpoint
// answers; when it does not, it stops the process and returns an error with
// the tail of its log.
func StartProcess(ctx context.Context, bin string, m Member) (*Process, error) {
	p, err := startProc(bin, m)
	if err != nil {
		return nil, err
	}
	if err := p.waitHealthy(ctx, 60*time.Second); err != nil {
		p.Stop()
		return nil, fmt.Errorf("%s did not become healthy: %w\n--- %s (last lines) ---\n%s", m.Name, err, m.LogFile, tail(m.LogFile, 20))
	}
	return p, nil
}

func startProc(bin string, m Member) (*Process, error) {
	if err := os.MkdirAll(filepath.Dir(m.LogFile), 0o755); err != nil {
		return nil, err
	}
	log, err := os.Create(m.LogFile)
	if err != nil {
		return nil, err
	}
	if m.Bin != "" {
		bin = m.Bin
	}
	args := []string{bin, "--config", m.Config}
	for _, o := range m.Overlays {
		args = append(args, "--config", o)
	}
	args = append(m.Prefix[:len(m.Prefix):len(m.Prefix)], args...)
	cmd := exec.Command(args[0], args[1:]...)
	cmd.Env = os.Environ()
	keys := make([]string, 0, len(m.Env))
	for k := range m.Env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		cmd.Env = append(cmd.Env, k+"="+m.Env[k])
	}
	cmd.Stdout, cmd.Stderr = log, log
	// Own process group: a Ctrl-C on the terminal reaches the runner only,
	// which then stops every member in order.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		_ = log.Close()
		return nil, fmt.Errorf("start %s: %w", m.Name, err)
	}
	p := &Process{member: m, cmd: cmd, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = log.Close()
		close(p.done)
	}()
	return p, nil
}

func (p *Process) waitHealthy(ctx context.Context, timeout time.Duration) error {
	url := "http://" + p.member.Addr(PortHealth) + "/"
	deadline := time.Now().Add(timeout)
	client := &http.Client{Timeout: time.Second}
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			if p.err == nil {
				return errors.New("exited with status 0")
			}
			return fmt.Errorf("exited: %w", p.err)
		case <-ctx.Done():
			return ctx.Err()
		default:
		}
		if resp, err := client.Get(url); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("no healthy answer from %s within %s", url, timeout)
}

// Exited reports the members that exited on their own.
func (r *Running) Exited() []string {
	var names []string
	for _, p := range r.procs {
		select {
		case <-p.done:
			names = append(names, fmt.Sprintf("%s (%v)", p.member.Name, p.err))
		default:
		}
	}
	return names
}

// Stop stops the members in reverse start order (agent first, so that the
// gateways and the sink can drain what is in flight).
func (r *Running) Stop() {
	for i := len(r.procs) - 1; i >= 0; i-- {
		r.procs[i].Stop()
	}
	r.procs = nil
}

// Stop stops the process: SIGTERM, then SIGKILL after 15 s.
func (p *Process) Stop() {
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(15 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Kill stops the process at once (SIGKILL), without draining what it holds.
func (p *Process) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Pid is the collector's process ID (a Prefix command such as taskset execs
// it in its own place).
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Member is what the process was started as.
func (p *Process) Member() Member { return p.member }

// Exited is closed when the process has exited; Err then says how.
func (p *Process) Exited() <-chan struct{} { return p.done }

// Err is the process's exit error, once Exited is closed.
func (p *Process) Err() error { return p.err }

// Done is closed when any member exits.
func (r *Running) Done() <-chan string {
	ch := make(chan string, 1)
	for _, p := range r.procs {
		go func(p *Process) {
			<-p.done
			select {
			case ch <- p.member.Name:
			default:
			}
		}(p)
	}
	return ch
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return err.Error()
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
