// Command tiercheck checks collector configurations against the rules of
// their tier without starting a collector: the rules the topology extension
// runs at startup (internal/tierrules), on files read the way the collector
// reads them, ${env:NAME:-default} expanded from tiercheck's own environment.
//
//	tiercheck [--role agent|gateway|sidecar] [--format text|json]
//	          [--workload KIND] [--traces-per-second N]
//	          [--grace-period D [--pre-stop D]] CONFIG...
//
// Exit status: 0 when no file has an error-level finding, 1 when one has,
// 2 when a file cannot be read or the arguments are wrong.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"k8s.io/apimachinery/pkg/api/resource"

	"github.com/otelcol-tiered/otelcol-tiered/internal/tierrules"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// result is the check of one file.
type result struct {
	Config   string              `json:"config"`
	Role     tierrules.Role      `json:"role"`
	Findings []tierrules.Finding `json:"findings"`
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("tiercheck", flag.ContinueOnError)
	fs.SetOutput(stderr)
	role := fs.String("role", "", "the tier: agent, gateway or sidecar (default: the role of the config's topology extension)")
	format := fs.String("format", "text", "output: text or json")
	workload := fs.String("workload", "", "kind of the workload the collector runs in (DaemonSet, Deployment, StatefulSet, Pod): checks agent-not-daemonset")
	traces := fs.Float64("traces-per-second", 0, "expected rate of new traces per replica at tail_sampling: checks tail-sampling-num-traces-too-small")
	grace := fs.Duration("grace-period", 0, "terminationGracePeriodSeconds or compose's stop_grace_period, e.g. 60s: checks stop-grace-too-short")
	preStop := fs.Duration("pre-stop", 0, "the pod's preStop delay, spent within the grace period, e.g. 10s")
	volume := fs.String("queue-volume", "", "size of the volume the persistent sending queues write to (the PVC's storage request), e.g. 5Gi or 5368709120: checks persistent-queue-exceeds-volume")
	list := fs.Bool("rules", false, "list the rules and exit")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: tiercheck [flags] CONFIG...\n\nChecks each collector config (a file, or a file:/yaml:/env: URI) against the rules of its tier.\nExit status: 0 no error-level finding, 1 error-level findings, 2 unreadable config or bad arguments.")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if *list {
		printRules(stdout)
		return 0
	}
	if *format != "text" && *format != "json" {
		fmt.Fprintf(stderr, "tiercheck: --format: unknown %q, want text or json\n", *format)
		return 2
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return 2
	}
	facts := tierrules.Facts{Workload: *workload, TracesPerSecond: *traces, GracePeriod: *grace, PreStop: *preStop}
	if *volume != "" {
		q, err := resource.ParseQuantity(*volume)
		if err != nil || q.Sign() <= 0 {
			fmt.Fprintf(stderr, "tiercheck: --queue-volume: %q is not a size in bytes (e.g. 5Gi, 512Mi, 5368709120)\n", *volume)
			return 2
		}
		facts.QueueVolume = q.Value()
	}
	logger := zap.New(zapcore.NewCore(zapcore.NewConsoleEncoder(zap.NewDevelopmentEncoderConfig()), zapcore.AddSync(stderr), zap.WarnLevel))

	var results []result
	for _, path := range fs.Args() {
		r, err := check(path, *role, facts, logger)
		if err != nil {
			fmt.Fprintf(stderr, "tiercheck: %s: %v\n", path, err)
			return 2
		}
		results = append(results, r)
	}
	if *format == "json" {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		_ = enc.Encode(results)
	} else {
		printText(stdout, results)
	}
	for _, r := range results {
		if tierrules.Count(r.Findings)[tierrules.SeverityError] > 0 {
			fmt.Fprintln(stderr, "tiercheck: error-level findings: exit status 1")
			return 1
		}
	}
	return 0
}

func check(path, role string, facts tierrules.Facts, logger *zap.Logger) (result, error) {
	conf, err := tierrules.Load(context.Background(), []string{path}, logger)
	if err != nil {
		return result{}, err
	}
	if role == "" {
		if role = conf.Role(); role == "" {
			return result{}, errors.New("no role: the service runs no topology extension with a role; give --role")
		}
	}
	r, err := tierrules.ParseRole(role)
	if err != nil {
		return result{}, fmt.Errorf("role: %w", err)
	}
	return result{Config: path, Role: r, Findings: tierrules.Check(conf, r, facts)}, nil
}

func printText(w io.Writer, results []result) {
	total := tierrules.Count(nil)
	for _, r := range results {
		counts := tierrules.Count(r.Findings)
		if len(r.Findings) == 0 {
			fmt.Fprintf(w, "%s (%s): ok\n", r.Config, r.Role)
			continue
		}
		fmt.Fprintf(w, "%s (%s): %s\n", r.Config, r.Role, summary(counts))
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, f := range r.Findings {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", f.Severity, f.Rule, f.Message)
		}
		_ = tw.Flush()
		for s, n := range counts {
			total[s] += n
		}
	}
	fmt.Fprintf(w, "%d config(s) checked: %s\n", len(results), summary(total))
}

func summary(counts map[tierrules.Severity]int) string {
	var parts []string
	for _, s := range tierrules.Severities {
		switch n := counts[s]; {
		case n == 1:
			parts = append(parts, fmt.Sprintf("1 %s", s))
		case n > 1:
			parts = append(parts, fmt.Sprintf("%d %ss", n, s))
		}
	}
	if len(parts) == 0 {
		return "no findings"
	}
	return strings.Join(parts, ", ")
}

func printRules(w io.Writer) {
	for _, r := range tierrules.Rules() {
		roles := make([]string, len(r.Roles))
		for i, x := range r.Roles {
			roles[i] = string(x)
		}
		fmt.Fprintf(w, "%s (%s; %s)\n  %s\n  why: %s\n", r.ID, r.Severity, strings.Join(roles, ", "), r.Summary, r.Why)
		if r.Needs != "" {
			fmt.Fprintf(w, "  needs: --%s\n", strings.ReplaceAll(r.Needs, "_", "-"))
		}
	}
}
