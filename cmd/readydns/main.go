// Command readydns is the compose twin of a headless Service's DNS: it
// answers -name with the addresses of -service's replicas whose health check
// answers 200, polled every -interval (internal/readydns). The compose file
// points the agents' and the gateways' resolvers at it, so that a stopping
// gateway leaves their rings at once, as a terminating pod leaves its
// EndpointSlice, and drains while it is still reachable (README, "Stop
// sequence").
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/miekg/dns"

	"github.com/otelcol-tiered/otelcol-tiered/internal/readydns"
)

func main() {
	listen := flag.String("listen", ":53", "UDP and TCP address to answer DNS on")
	name := flag.String("name", "gateway.ready", "the name answered")
	service := flag.String("service", "gateway", "the name whose addresses are the replicas (Docker's DNS)")
	healthPort := flag.String("health-port", "13133", "the replicas' health check port")
	healthPath := flag.String("health-path", "/", "the replicas' health check path")
	interval := flag.Duration("interval", 250*time.Millisecond, "how often every replica is checked")
	flag.Parse()
	if *interval <= 0 {
		fmt.Fprintln(os.Stderr, "readydns: -interval must be positive")
		os.Exit(2)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	members := &readydns.Members{}
	poller := &readydns.Poller{
		Lookup:   readydns.LookupHost(net.DefaultResolver, *service),
		Ready:    readydns.HTTPReady(&http.Client{Timeout: *interval}, *healthPort, *healthPath),
		Interval: *interval,
		Members:  members,
		OnChange: func(a []netip.Addr) { log.Printf("readydns: %s ready: %v", *service, a) },
	}
	poller.Once(ctx) // answer from the first query on
	go poller.Poll(ctx)

	handler := readydns.Handler(*name, members)
	errs := make(chan error, 2)
	servers := []*dns.Server{
		{Addr: *listen, Net: "udp", Handler: handler},
		{Addr: *listen, Net: "tcp", Handler: handler},
	}
	for _, s := range servers {
		go func() { errs <- s.ListenAndServe() }()
	}
	log.Printf("readydns: answering %s with the ready replicas of %s on %s", *name, *service, *listen)
	select {
	case err := <-errs:
		log.Printf("readydns: %v", err)
		os.Exit(1)
	case <-ctx.Done():
	}
	for _, s := range servers {
		_ = s.Shutdown()
	}
}
