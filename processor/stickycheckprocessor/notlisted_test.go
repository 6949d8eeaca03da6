package stickycheckprocessor

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/processor/processortest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otelcol-tiered/otelcol-tiered/internal/ring"
	"github.com/otelcol-tiered/otelcol-tiered/processor/stickycheckprocessor/internal/metadata"
)

// A replica is listed once it is ready (a headless Service's DNS, compose's
// readydns): a first list without self is said at info level, and warned
// about only if self is still missing after grace; self missing after it
// was listed is warned about at once.
func TestSelfNotListedYetIsWarnedAboutOnlyAfterGrace(t *testing.T) {
	core, logs := observer.New(zapcore.InfoLevel)
	cfg := createDefaultConfig().(*Config)
	cfg.Self, cfg.Grace = "10.0.0.9:4317", 200*time.Millisecond
	cfg.Resolver.Static = configoptional.Some(ring.StaticConfig{Hostnames: members})
	set := processortest.NewNopSettings(metadata.Type)
	set.Logger = zap.New(core)
	p, err := newStickyCheck(set, cfg)
	require.NoError(t, err)
	warnings := func() int { return logs.FilterLevelExact(zapcore.WarnLevel).Len() }

	p.setMembers(members)
	assert.Equal(t, 1, logs.FilterMessageSnippet("not listed in the ring yet").Len())
	assert.Zero(t, warnings(), "not yet listed is not yet wrong")
	require.Eventually(t, func() bool { return warnings() == 1 }, 2*time.Second, 10*time.Millisecond, "still missing after grace: warned")

	p.setMembers(append(members, cfg.Self))
	p.setMembers(members)
	assert.Equal(t, 2, warnings(), "missing after it was listed: warned at once")

	// Listed within grace: no warning comes.
	q, err := newStickyCheck(set, cfg)
	require.NoError(t, err)
	before := warnings()
	q.setMembers(members)
	q.setMembers(append(members, cfg.Self))
	time.Sleep(2 * cfg.Grace)
	assert.Equal(t, before, warnings())
}
