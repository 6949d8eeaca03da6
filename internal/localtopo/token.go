package localtopo // import "github.com/otelcol-tiered/otelcol-tiered/internal/localtopo"

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"
)

// PeerTokenEnv is the variable configs/gateway.yaml reads the gateways'
// shared peer token from (bearertokenauth/peer).
const PeerTokenEnv = "STICKYCHECK_PEER_TOKEN"

// NewPeerToken returns a random token: 32 bytes from crypto/rand, in hex,
// prefixed so that the YAML the collector parses an env value as always
// reads it as a string.
func NewPeerToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generating the gateways' peer token: %w", err)
	}
	return "sckp-" + hex.EncodeToString(b), nil
}
