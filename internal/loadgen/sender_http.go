package loadgen

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	spb "google.golang.org/genproto/googleapis/rpc/status"
	"google.golang.org/protobuf/proto"
)

type httpSender struct {
	url         string
	client      *http.Client
	compression string
}

// dialHTTP checks that the endpoint (host:port) takes connections and
// returns a sender holding up to inflight keep-alive connections to it.
func dialHTTP(ctx context.Context, endpoint, compression string, inflight int, dialTimeout time.Duration) (*httpSender, error) {
	if err := reachable(ctx, endpoint, dialTimeout); err != nil {
		return nil, err
	}
	tr := &http.Transport{
		DialContext:         (&net.Dialer{Timeout: dialTimeout}).DialContext,
		MaxConnsPerHost:     inflight,
		MaxIdleConnsPerHost: inflight,
		DisableCompression:  true,
	}
	return &httpSender{url: "http://" + endpoint + "/v1/traces", client: &http.Client{Transport: tr}, compression: compression}, nil
}

func (s *httpSender) Export(ctx context.Context, request []byte) Outcome {
	body := request
	if s.compression == CompressionGzip {
		var buf bytes.Buffer
		zw := gzip.NewWriter(&buf)
		_, _ = zw.Write(request)
		_ = zw.Close()
		body = buf.Bytes()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return Outcome{Status: "BadRequest", Message: err.Error(), Kind: Failed}
	}
	req.Header.Set("Content-Type", "application/x-protobuf")
	if s.compression == CompressionGzip {
		req.Header.Set("Content-Encoding", "gzip")
	}
	resp, err := s.client.Do(req)
	if err != nil {
		o := Outcome{Status: "ConnectionError", Message: err.Error(), Kind: Failed}
		switch {
		case errors.Is(err, context.DeadlineExceeded):
			o.Status = "DeadlineExceeded"
		case errors.Is(err, context.Canceled):
			o.Status = "Canceled"
		}
		return o
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return Outcome{Status: "ConnectionError", Message: err.Error(), Kind: Failed}
	}
	if resp.StatusCode != http.StatusOK {
		return Outcome{Status: fmt.Sprintf("HTTP %d", resp.StatusCode), Message: httpMessage(resp.Header.Get("Content-Type"), data), Kind: Refused}
	}
	er := ptraceotlp.NewExportResponse()
	if err := er.UnmarshalProto(data); err != nil {
		return Outcome{Status: "BadResponse", Message: err.Error(), Kind: Refused}
	}
	if n := er.PartialSuccess().RejectedSpans(); n > 0 {
		return Outcome{Status: "PartialSuccess", Message: er.PartialSuccess().ErrorMessage(), Rejected: n, Kind: Accepted}
	}
	return Outcome{Status: "OK", Kind: Accepted}
}

// httpMessage extracts the message of an OTLP/HTTP error body (a
// google.rpc.Status in protobuf), or returns the body as text.
func httpMessage(contentType string, body []byte) string {
	if strings.Contains(contentType, "protobuf") {
		var st spb.Status
		if proto.Unmarshal(body, &st) == nil {
			return st.GetMessage()
		}
	}
	return strings.TrimSpace(string(body))
}

func (s *httpSender) Close() error {
	s.client.CloseIdleConnections()
	return nil
}
