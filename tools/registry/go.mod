module github.com/otelcol-tiered/otelcol-tiered/tools/registry

go 1.25.7

require github.com/google/go-containerregistry v0.22.1
