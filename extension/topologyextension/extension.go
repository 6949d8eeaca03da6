package topologyextension // import "github.com/otelcol-tiered/otelcol-tiered/extension/topologyextension"

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensioncapabilities"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otelcol-tiered/otelcol-tiered/extension/topologyextension/internal/metadata"
	"github.com/otelcol-tiered/otelcol-tiered/internal/sizing"
	"github.com/otelcol-tiered/otelcol-tiered/internal/tierrules"
)

// workloadTimeout bounds the Kubernetes API lookup at startup.
const workloadTimeout = 10 * time.Second

type topology struct {
	cfg       *Config
	role      tierrules.Role
	set       extension.Settings
	logger    *zap.Logger
	telemetry *metadata.TelemetryBuilder
	table     sizing.Table
	cost      sizing.Cost

	getenv    func(string) string
	newClient func() (ownerReader, error)

	server      *http.Server
	serveDone   chan struct{}
	stopMeter   context.CancelFunc
	meterDone   chan struct{}
	findingsSet []metric.RecordOption // by severity, built once

	mu           sync.Mutex
	conf         *tierrules.Config
	workload     string
	workloadNote string
	findings     []tierrules.Finding
	meter        *meter
	meterNote    string
	tailSampling *sizing.TailSamplingConfig
}

var (
	_ extension.Extension                         = (*topology)(nil)
	_ extensioncapabilities.ConfigSnapshotWatcher = (*topology)(nil)
)

func newTopology(set extension.Settings, cfg *Config) (*topology, error) {
	role, err := tierrules.ParseRole(cfg.Role)
	if err != nil {
		return nil, fmt.Errorf("role: %w", err)
	}
	tb, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	table := cfg.Sizing.Table
	if table == nil {
		table = sizing.DefaultTables[string(role)]
	}
	t := &topology{
		cfg: cfg, role: role, set: set, logger: set.Logger, telemetry: tb,
		table: table, cost: sizing.DefaultCosts[string(role)],
		getenv: os.Getenv, newClient: inClusterClient,
		meterNote: "the collector has not given its configuration yet",
	}
	for _, s := range tierrules.Severities {
		t.findingsSet = append(t.findingsSet, metric.WithAttributeSet(attribute.NewSet(attribute.String("severity", string(s)))))
	}
	return t, nil
}

func (t *topology) Start(ctx context.Context, host component.Host) error {
	t.telemetry.ExtensionTopologyInfo.Record(ctx, 1, metric.WithAttributeSet(attribute.NewSet(attribute.String("role", string(t.role)))))
	ln, err := t.cfg.ToListener(ctx)
	if err != nil {
		return fmt.Errorf("topology endpoint %s: %w", t.cfg.NetAddr.Endpoint, err)
	}
	t.server, err = t.cfg.ToServer(ctx, host.GetExtensions(), t.set.TelemetrySettings, t.handler())
	if err != nil {
		_ = ln.Close()
		return err
	}
	t.serveDone = make(chan struct{})
	go func() {
		defer close(t.serveDone)
		if err := t.server.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.logger.Error("topology endpoint stopped", zap.Error(err))
		}
	}()
	t.logger.Info("topology endpoint listening", zap.String("role", string(t.role)), zap.String("endpoint", ln.Addr().String()))
	return nil
}

// NotifyConfigSnapshot receives the effective configuration after the
// extensions started and before the pipelines start: the rules are checked
// here, and a strict extension stops startup on error-level findings.
func (t *topology) NotifyConfigSnapshot(ctx context.Context, snap extensioncapabilities.ConfigSnapshot) error {
	eff := snap.Effective()
	if eff == nil {
		return nil
	}
	conf, err := tierrules.ParseEffective(eff.ToStringMap())
	if err != nil {
		t.logger.Error("cannot read the effective configuration: no rule check", zap.Error(err))
		return nil
	}
	// Only the agent's rules need the workload kind: other roles need no
	// RBAC for it and ask nothing.
	var workload string
	var werr error
	if t.role == tierrules.Agent {
		lookupCtx, cancel := context.WithTimeout(ctx, workloadTimeout)
		workload, werr = lookupWorkload(lookupCtx, t.getenv, t.newClient)
		cancel()
	}

	t.mu.Lock()
	t.conf, t.workload = conf, workload
	if werr != nil {
		t.workloadNote = werr.Error()
		t.logger.Warn("cannot tell the workload kind of this pod; the agent-not-daemonset rule is not checked", zap.Error(werr))
	}
	if ts, ok := conf.TailSampling(); ok {
		t.tailSampling = &sizing.TailSamplingConfig{DecisionWait: ts.DecisionWait, NumTraces: ts.NumTraces}
	}
	findings := t.checkLocked(ctx, tierrules.Facts{Workload: workload})
	t.mu.Unlock()

	for _, f := range findings {
		t.logFinding("topology rule", f)
	}
	if len(findings) == 0 {
		t.logger.Info("topology rules: the configuration passes every rule of its tier", zap.String("role", string(t.role)))
	}
	if errs := tierrules.Count(findings)[tierrules.SeverityError]; errs > 0 && t.cfg.Strict {
		var msgs []string
		for _, f := range findings {
			if f.Severity == tierrules.SeverityError {
				msgs = append(msgs, fmt.Sprintf("[%s] %s", f.Rule, f.Message))
			}
		}
		return fmt.Errorf("topology (strict): the configuration breaks %d error-level rule(s) of the %s tier: %s; fix it, or set strict: false to start anyway",
			errs, t.role, strings.Join(msgs, "; "))
	}
	t.startMeter(conf)
	return nil
}

func (t *topology) logFinding(msg string, f tierrules.Finding) {
	fields := []zap.Field{zap.String("rule", f.Rule), zap.String("severity", string(f.Severity)), zap.String("role", string(t.role))}
	line := fmt.Sprintf("%s %s (%s): %s", msg, f.Rule, f.Severity, f.Message)
	if f.Severity == tierrules.SeverityInfo {
		t.logger.Info(line, fields...)
		return
	}
	t.logger.Warn(line, fields...)
}

// checkLocked runs the rules, keeps and counts the findings; t.mu is held.
func (t *topology) checkLocked(ctx context.Context, facts tierrules.Facts) []tierrules.Finding {
	t.findings = tierrules.Check(t.conf, t.role, facts)
	counts := tierrules.Count(t.findings)
	for i, s := range tierrules.Severities {
		t.telemetry.ExtensionTopologyFindings.Record(ctx, int64(counts[s]), t.findingsSet[i])
	}
	return t.findings
}

func (t *topology) startMeter(conf *tierrules.Config) {
	url, err := conf.SelfTelemetryURL()
	t.mu.Lock()
	defer t.mu.Unlock()
	if err != nil {
		t.meterNote = err.Error()
		t.logger.Warn("no live measurement: sizing hints fall back to the tables", zap.Error(err))
		return
	}
	t.meter, t.meterNote = newMeter(url, t.cfg.Window), ""
	ctx, cancel := context.WithCancel(context.Background())
	t.stopMeter, t.meterDone = cancel, make(chan struct{})
	go func() {
		defer close(t.meterDone)
		t.meter.run(ctx, func() { t.recheck(ctx) })
	}()
}

// recheck runs the rules again with the measured trace rate (the live rule)
// and logs the rules that start or stop firing.
func (t *topology) recheck(ctx context.Context) {
	m := t.meter.measurement()
	t.mu.Lock()
	before := ruleSet(t.findings)
	findings := t.checkLocked(ctx, tierrules.Facts{Workload: t.workload, TracesPerSecond: m.TracesPerSecond})
	t.mu.Unlock()
	after := ruleSet(findings)
	for _, f := range findings {
		if !before[f.Rule] {
			t.logFinding("topology rule (live)", f)
		}
	}
	for r := range before {
		if !after[r] {
			t.logger.Info("topology rule (live) no longer breaks: "+r, zap.String("rule", r))
		}
	}
}

func ruleSet(findings []tierrules.Finding) map[string]bool {
	s := make(map[string]bool, len(findings))
	for _, f := range findings {
		s[f.Rule] = true
	}
	return s
}

func (t *topology) Shutdown(ctx context.Context) error {
	if t.stopMeter != nil {
		t.stopMeter()
		<-t.meterDone
	}
	var err error
	if t.server != nil {
		err = t.server.Shutdown(ctx)
		<-t.serveDone
	}
	t.telemetry.Shutdown()
	return err
}
