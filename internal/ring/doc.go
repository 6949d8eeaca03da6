// Package ring answers, the way contrib's load-balancing exporter does, two
// questions about a tier of gateway replicas: which member owns a trace, and
// who the members are. It holds the upstream ring generations behind one
// type (Ring) and the exporter's resolvers (static, dns, k8s), which publish
// member lists in exactly the form the exporter hashes.
package ring // import "github.com/otelcol-tiered/otelcol-tiered/internal/ring"
