package monitoring // import "github.com/otelcol-tiered/otelcol-tiered/deploy/monitoring"

import (
	"encoding/json"
	"fmt"

	"github.com/grafana/grafana-foundation-sdk/go/cog"
	"github.com/grafana/grafana-foundation-sdk/go/cog/variants"
	"github.com/grafana/grafana-foundation-sdk/go/common"
	"github.com/grafana/grafana-foundation-sdk/go/dashboard"
	"github.com/grafana/grafana-foundation-sdk/go/prometheus"
	"github.com/grafana/grafana-foundation-sdk/go/stat"
	"github.com/grafana/grafana-foundation-sdk/go/timeseries"
)

// DashboardUID is the dashboard's uid: importing it again replaces it.
const DashboardUID = "otelcol-tiered"

// NumTraces is tail sampling's num_traces in configs/gateway.yaml (the
// default of NUM_TRACES): the rules' and the dashboard's line for "traces on
// memory". A test keeps it equal to the config.
const NumTraces = 100000

// Query is one PromQL query of a panel and its legend.
type Query struct {
	Expr   string
	Legend string
}

// Panel is one panel of the dashboard.
type Panel struct {
	Title       string
	Description string
	Unit        string
	Stat        bool     // a stat panel (current value per series) instead of a time series
	Threshold   *float64 // a red line (time series) or red value (stat) from this value up
	Queries     []Query
}

// Row is a row of panels.
type Row struct {
	Title  string
	Panels []Panel
}

// counter selects a counter with and without the `_total` suffix, as the
// opentelemetry-collector-mixin does.
func counter(name, matchers string) string {
	if matchers != "" {
		matchers = ", " + matchers
	}
	return fmt.Sprintf(`{__name__=~"%s(_total)?"%s}`, name, matchers)
}

func rate(sel string) string { return "rate(" + sel + "[$__rate_interval])" }

// tierJoin adds the label role (agent, gateway, sidecar) to every series of
// a replica, from the topology extension's otelcol_extension_topology_info.
const tierJoin = ` * on (namespace, job, instance) group_left (role) max by (namespace, job, instance, role) (otelcol_extension_topology_info)`

// byTier sums v per tier.
func byTier(v string) string { return "sum by (role) (" + v + tierJoin + ")" }

// perReplica keeps v per replica, labelled with its tier.
func perReplica(v string) string {
	return "max by (role, namespace, job, instance) (" + v + tierJoin + ")"
}

func ptr(v float64) *float64 { return &v }

// Rows are the dashboard's panels: what an operator of the tier watches.
var Rows = []Row{
	{Title: "Spans through the tier", Panels: []Panel{
		{Title: "Spans in per tier", Unit: "cps",
			Description: "Spans the receivers accepted, per tier (the topology extension's role).",
			Queries:     []Query{{byTier(rate(counter("otelcol_receiver_accepted_spans", ""))), "{{role}}"}}},
		{Title: "Spans out per tier", Unit: "cps",
			Description: "Spans the exporters sent, per tier. Gateways send what tail sampling kept.",
			Queries:     []Query{{byTier(rate(counter("otelcol_exporter_sent_spans", ""))), "{{role}}"}}},
		{Title: "Spans refused and failed per tier", Unit: "cps",
			Description: "Refused: pushed back to the sender (receiver, memory_limiter). Failed: lost after the exporter's retries, or not queued because the queue was full.",
			Queries: []Query{
				{byTier(rate(counter("otelcol_receiver_refused_spans", ""))), "{{role}} refused by the receiver"},
				{byTier(rate(counter("otelcol_processor_memory_limiter_refused_spans", ""))), "{{role}} refused by memory_limiter"},
				{byTier(rate(counter("otelcol_exporter_send_failed_spans", ""))), "{{role}} send failed"},
				{byTier(rate(counter("otelcol_exporter_enqueue_failed_spans", ""))), "{{role}} enqueue failed"},
			}},
	}},
	{Title: "Resources against the sizing hint", Panels: []Panel{
		{Title: "CPU per replica", Unit: "short",
			Description: "Cores used, and the topology extension's measured hint: requests put the use at the seed's HPA target (70 % CPU), limits are limit_factor (2) × requests. The exact hint, rounded, with its basis: GET :13134/topology/sizing.",
			Queries: []Query{
				{perReplica(rate(counter("otelcol_process_cpu_seconds", ""))), "{{role}} {{instance}}"},
				{perReplica(rate(counter("otelcol_process_cpu_seconds", "")) + " / 0.7"), "{{role}} {{instance}} hint: request"},
				{perReplica(rate(counter("otelcol_process_cpu_seconds", "")) + " / 0.7 * 2"), "{{role}} {{instance}} hint: limit"},
			}},
		{Title: "Memory (RSS) per replica", Unit: "bytes",
			Description: "Resident memory, and the topology extension's measured hint: requests put the RSS at the seed's HPA target (80 % memory), limits are limit_factor (2) × requests. For a gateway the extension also adds tail sampling's estimate: GET :13134/topology/sizing.",
			Queries: []Query{
				{perReplica(`{__name__=~"otelcol_process_memory_rss(_bytes)?"}`), "{{role}} {{instance}}"},
				{perReplica(`{__name__=~"otelcol_process_memory_rss(_bytes)?"} / 0.8`), "{{role}} {{instance}} hint: request"},
				{perReplica(`{__name__=~"otelcol_process_memory_rss(_bytes)?"} / 0.8 * 2`), "{{role}} {{instance}} hint: limit"},
			}},
	}},
	{Title: "Ring", Panels: []Panel{
		{Title: "Ring members per gateway, backends per agent", Unit: "short",
			Description: "Every gateway's ring and every agent's load-balancing exporter should name the same members.",
			Queries: []Query{
				{`max by (namespace, job, instance) (otelcol_processor_stickycheck_ring_members)`, "gateway {{instance}} ring members"},
				{`max by (namespace, job, instance) (otelcol_loadbalancer_num_backends)`, "agent {{instance}} backends"},
			}},
		{Title: "Ring hash per gateway", Unit: "none", Stat: true,
			Description: "A number derived from the sorted member list: gateways that agree show the same value.",
			Queries:     []Query{{`max by (namespace, job, instance) (otelcol_processor_stickycheck_ring_hash)`, "{{instance}}"}}},
		{Title: "Distinct rings per gateway tier", Unit: "none", Stat: true, Threshold: ptr(2),
			Description: "1 when every gateway of the tier sees the same ring; more for as long as they disagree.",
			Queries: []Query{{`count by (namespace, job) (count_values by (namespace, job) ("ring_hash", otelcol_processor_stickycheck_ring_hash))`,
				"{{job}}"}}},
	}},
	{Title: "Stickiness", Panels: []Panel{
		{Title: "Misrouted spans per replica", Unit: "cps",
			Description: "Spans that reached a gateway although the ring gives their trace to another member. ring_change: during a ring change (within grace); not_owner, self_not_member: outside one.",
			Queries: []Query{{`sum by (namespace, job, instance, reason) (` + rate(counter("otelcol_processor_stickycheck_spans_misrouted", "")) + `)`,
				"{{instance}} {{reason}}"}}},
		{Title: "Split traces by cause", Unit: "cps",
			Description: "Traces whose spans reached two or more gateways, counted once in the tier by the trace's owner.",
			Queries: []Query{{`sum by (namespace, job, cause) (` + rate(counter("otelcol_processor_stickycheck_traces_split", "")) + `)`,
				"{{job}} {{cause}}"}}},
		{Title: "Forwarding", Unit: "cps",
			Description: "Spans a gateway forwarded to their owner, by reason and outcome (every outcome but sent is a loss), and spans held for forwarding.",
			Queries: []Query{
				{`sum by (namespace, job, reason, outcome) (` + rate(counter("otelcol_processor_stickycheck_spans_forwarded", "")) + `)`, "{{reason}} {{outcome}}"},
				{`sum by (namespace, job) (` + rate(counter("otelcol_processor_stickycheck_spans_held", "")) + `)`, "{{job}} held"},
			}},
		{Title: "Peer reports", Unit: "cps",
			Description: "The split-trace audit's reports between gateways (port 4319): sent, received, rejected (by reason, unauthenticated among them) and dropped unsent.",
			Queries: []Query{
				{`sum by (namespace, job) (` + rate(counter("otelcol_processor_stickycheck_peer_reports_sent", "")) + `)`, "{{job}} sent"},
				{`sum by (namespace, job) (` + rate(counter("otelcol_processor_stickycheck_peer_reports_received", "")) + `)`, "{{job}} received"},
				{`sum by (namespace, job, reason) (` + rate(counter("otelcol_processor_stickycheck_peer_reports_rejected", "")) + `)`, "{{job}} rejected {{reason}}"},
				{`sum by (namespace, job, reason) (` + rate(counter("otelcol_processor_stickycheck_peer_reports_dropped", "")) + `)`, "{{job}} dropped {{reason}}"},
			}},
	}},
	{Title: "Export queues", Panels: []Panel{
		{Title: "Queue fill", Unit: "percentunit", Threshold: ptr(0.8),
			Description: "Each exporter's sending queue: size ÷ capacity. Above 80 % for 5 minutes alerts; when full, new data is refused.",
			Queries: []Query{{perReplica(`max by (namespace, job, instance, exporter) (otelcol_exporter_queue_size / otelcol_exporter_queue_capacity)`),
				"{{role}} {{instance}}"}}},
		{Title: "Export failures", Unit: "cps",
			Description: "Items lost after the exporter's retries (send failed) or not queued (enqueue failed), per exporter.",
			Queries: []Query{
				{`sum by (namespace, job, instance, exporter) (` + rate(counter("otelcol_exporter_send_failed_spans", "")) + `)`, "{{instance}} {{exporter}} send failed"},
				{`sum by (namespace, job, instance, exporter) (` + rate(counter("otelcol_exporter_enqueue_failed_spans", "")) + `)`, "{{instance}} {{exporter}} enqueue failed"},
			}},
	}},
	{Title: "Tail sampling", Panels: []Panel{
		{Title: "Sampling decisions", Unit: "cps",
			Description: "Traces decided per second by decision (sampled, not_sampled, dropped), and new traces.",
			Queries: []Query{
				{`sum by (namespace, job, decision) (` + rate(counter("otelcol_processor_tail_sampling_global_count_traces_sampled", "")) + `)`, "{{decision}}"},
				{`sum by (namespace, job) (` + rate(counter("otelcol_processor_tail_sampling_new_trace_id_received", "")) + `)`, "new traces"},
			}},
		{Title: "Traces on memory", Unit: "short", Threshold: ptr(0.9 * NumTraces),
			Description: "Traces tail sampling holds, per gateway; the line is 90 % of num_traces (configs/gateway.yaml), where the alert fires.",
			Queries:     []Query{{`max by (namespace, job, instance) (otelcol_processor_tail_sampling_sampling_traces_on_memory)`, "{{instance}}"}}},
		{Title: "Late spans and traces dropped too early", Unit: "cps",
			Description: "Spans that arrived after their trace's decision, and traces dropped before decision_wait because num_traces was reached.",
			Queries: []Query{
				{`sum by (namespace, job, instance) (rate({__name__=~"otelcol_processor_tail_sampling_sampling_late_span_age(_seconds)?_count"}[$__rate_interval]))`, "{{instance}} late spans"},
				{`sum by (namespace, job, instance) (` + rate(counter("otelcol_processor_tail_sampling_sampling_trace_dropped_too_early", "")) + `)`, "{{instance}} traces dropped too early"},
			}},
	}},
}

// datasource is every query's data source: the dashboard's variable.
var datasource = common.DataSourceRef{Type: cog.ToPtr("prometheus"), Uid: cog.ToPtr("${datasource}")}

// Dashboard builds the dashboard with the Grafana foundation SDK, in the
// classic dashboard JSON model: the one Grafana's Import, its HTTP API
// (/api/dashboards/db) and the dashboard sidecar take in every supported
// release. The SDK marks it deprecated for dashboardv2, which only Grafana
// 12's new dashboards API reads.
//
//nolint:staticcheck // SA1019: the v1 model on purpose (above).
func Dashboard() (dashboard.Dashboard, error) {
	b := dashboard.NewDashboardBuilder("otelcol-tiered: the tier").
		Uid(DashboardUID).
		Description("Agents, gateways and sidecars of otelcol-tiered: throughput, resources against the sizing hint, the ring, stickiness, export queues and tail sampling. Alerts and runbooks: the README, \"Operating the tier\".").
		Tags([]string{"otelcol-tiered", "opentelemetry-collector"}).
		Refresh("30s").
		Time("now-1h", "now").
		Timezone(common.TimeZoneBrowser).
		Tooltip(dashboard.DashboardCursorSyncCrosshair).
		WithVariable(dashboard.NewDatasourceVariableBuilder("datasource").Label("Data source").Type("prometheus"))
	// Panel ids, unique in the dashboard (Grafana's links to a panel use them).
	id := uint32(0)
	for _, row := range Rows {
		id++
		b = b.WithRow(dashboard.NewRowBuilder(row.Title).Id(id))
		for _, p := range row.Panels {
			id++
			b = b.WithPanel(panel(id, p))
		}
	}
	return b.Build()
}

func panel(id uint32, p Panel) cog.Builder[dashboard.Panel] {
	var targets []cog.Builder[variants.Dataquery]
	for _, q := range p.Queries {
		targets = append(targets, prometheus.NewDataqueryBuilder().Datasource(datasource).Expr(q.Expr).LegendFormat(q.Legend))
	}
	var thresholds *dashboard.ThresholdsConfigBuilder
	if p.Threshold != nil {
		thresholds = dashboard.NewThresholdsConfigBuilder().Mode(dashboard.ThresholdsModeAbsolute).
			Steps([]dashboard.Threshold{{Value: nil, Color: "green"}, {Value: p.Threshold, Color: "red"}})
	}
	if p.Stat {
		s := stat.NewPanelBuilder().Id(id).Title(p.Title).Description(p.Description).Unit(p.Unit).Datasource(datasource).
			Height(6).Span(8).Targets(targets).TextMode(common.BigValueTextModeValueAndName)
		if thresholds != nil {
			s = s.Thresholds(thresholds)
		}
		return s
	}
	ts := timeseries.NewPanelBuilder().Id(id).Title(p.Title).Description(p.Description).Unit(p.Unit).Datasource(datasource).
		Height(8).Span(12).Targets(targets).Min(0)
	if thresholds != nil {
		ts = ts.Thresholds(thresholds).ThresholdsStyle(common.NewGraphThresholdsStyleConfigBuilder().Mode(common.GraphThresholdsStyleModeLine))
	}
	return ts
}

// DashboardJSON is the dashboard as Grafana imports it.
func DashboardJSON() ([]byte, error) {
	d, err := Dashboard()
	if err != nil {
		return nil, err
	}
	out, err := json.MarshalIndent(d, "", "  ")
	if err != nil {
		return nil, err
	}
	return append(out, '\n'), nil
}
