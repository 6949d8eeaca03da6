//go:build !linux

package stickycheckprocessor // import "github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor"

func adviseHugePages([]entry) {}
