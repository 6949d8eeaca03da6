package topologyextension

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/open-telemetry/opentelemetry-collector-contrib/extension/bearertokenauthextension"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/config/configauth"
	"go.opentelemetry.io/collector/config/confighttp"
	"go.opentelemetry.io/collector/config/configopaque"
	"go.opentelemetry.io/collector/config/configoptional"
	"go.opentelemetry.io/collector/extension/extensiontest"
)

type authHost struct {
	component.Host
	extensions map[component.ID]component.Component
}

func (h authHost) GetExtensions() map[component.ID]component.Component { return h.extensions }

// The endpoint takes the collector's server auth like any other: with the
// real bearertokenauth, a caller without the token gets 401, with it 200.
func TestEndpointUsesTheCollectorsServerAuth(t *testing.T) {
	f := bearertokenauthextension.NewFactory()
	bcfg := f.CreateDefaultConfig().(*bearertokenauthextension.Config)
	bcfg.BearerToken = configopaque.String("topology-secret")
	ext, err := f.Create(context.Background(), extensiontest.NewNopSettings(f.Type()), bcfg)
	require.NoError(t, err)
	require.NoError(t, ext.Start(context.Background(), componenttest.NewNopHost()))
	defer func() { require.NoError(t, ext.Shutdown(context.Background())) }()
	id := component.NewID(f.Type())
	host := authHost{Host: componenttest.NewNopHost(), extensions: map[component.ID]component.Component{id: ext}}

	tel := componenttest.NewTelemetry()
	defer func() { require.NoError(t, tel.Shutdown(context.Background())) }()
	topo := newTestTopology(t, "gateway", "127.0.60.5:13134", 5*time.Second, tel)
	topo.cfg.Auth = configoptional.Some(confighttp.AuthConfig{Config: configauth.Config{AuthenticatorID: id}})
	ctx := context.Background()
	require.NoError(t, topo.Start(ctx, host))
	defer func() { require.NoError(t, topo.Shutdown(ctx)) }()

	code, body := get(t, "http://127.0.60.5:13134/topology")
	assert.Equal(t, http.StatusUnauthorized, code, body)

	req, err := http.NewRequest(http.MethodGet, "http://127.0.60.5:13134/topology", http.NoBody)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer topology-secret")
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
}
