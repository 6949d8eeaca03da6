package main

import (
	"bytes"
	"context"
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestFlagsReachTheOptions(t *testing.T) {
	var stderr bytes.Buffer
	o, _, err := parseArgs([]string{"-duration", "5s", "-rate", "1000", "-only", "null, gateway", "-skip", "micro", "-collector-cpu", "1", "-load-cpu", "0"}, &stderr)
	require.NoError(t, err)
	assert.Equal(t, 5*time.Second, o.Duration)
	assert.Equal(t, 1000.0, o.FixedRate)
	assert.Equal(t, []string{"null", "gateway"}, o.Only)
	assert.Equal(t, []string{"micro"}, o.Skip)
	assert.Equal(t, 1, o.CollectorCPU)
}

func TestBadFlagsExitTwo(t *testing.T) {
	var stdout, stderr bytes.Buffer
	assert.Equal(t, 2, run(context.Background(), []string{"-only", "nope"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), `bench: only: no configuration "nope"`)
	stderr.Reset()
	assert.Equal(t, 2, run(context.Background(), []string{"-frobnicate"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "bench: flag provided but not defined: -frobnicate")
	stderr.Reset()
	assert.Equal(t, 0, run(context.Background(), []string{"-h"}, &stdout, &stderr))
	assert.Contains(t, stderr.String(), "-ratio-duration")
}

func TestRenderRewritesTheReportFromResults(t *testing.T) {
	dir := t.TempDir()
	results := dir + "/results.json"
	require.NoError(t, os.WriteFile(results, []byte(`{"rows":[{"name":"null","title":"null pipeline","measured":true,"fixed":{"cpu_seconds_per_million_spans":5}}]}`), 0o644))
	var stdout, stderr bytes.Buffer
	require.Equal(t, 0, run(context.Background(), []string{"-render", results, "-out", dir + "/out"}, &stdout, &stderr), stderr.String())
	md, err := os.ReadFile(dir + "/out/README.md")
	require.NoError(t, err)
	assert.Contains(t, string(md), "| null pipeline |")
	assert.FileExists(t, dir+"/out/spans-per-core.svg")
}
