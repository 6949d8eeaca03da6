//go:build tools

// Package tools pins the build tools that `go install` cannot fetch by version
// from the partial module mirror (it refuses the version list of mdatagen).
package tools

import _ "go.opentelemetry.io/collector/cmd/mdatagen"
