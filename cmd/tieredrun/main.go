// Command tieredrun starts the local tiered topology of `make run`: one agent,
// three gateways, a sink and, on request, sidecars, each a process of the built collector on its own
// loopback address. Ctrl-C stops them all.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"text/tabwriter"

	"github.com/otelcol-tiered/otelcol-tiered/internal/localtopo"
)

func main() {
	bin := flag.String("bin", "bin/otelcol-tiered", "the built collector")
	configs := flag.String("configs", "configs", "directory of agent.yaml, gateway.yaml, sidecar.yaml and sink.yaml")
	workdir := flag.String("workdir", "build/run", "directory for logs, queues and the sink's file")
	network := flag.String("net", "127.0.0", "first three octets of the loopback addresses")
	gateways := flag.Int("gateways", 3, "gateway replicas")
	sidecars := flag.Int("sidecars", 0, "sidecars beside the agent (each on .30 onwards)")
	flag.Parse()
	if err := run(*bin, *configs, *workdir, localtopo.Options{Net: *network, Gateways: *gateways, Sidecars: *sidecars}); err != nil {
		fmt.Fprintln(os.Stderr, "tieredrun:", err)
		os.Exit(1)
	}
}

func run(bin, configs, workdir string, o localtopo.Options) error {
	workdir, err := filepath.Abs(workdir)
	if err != nil {
		return err
	}
	if err := os.RemoveAll(workdir); err != nil {
		return err
	}
	o.ConfigDir, o.WorkDir = configs, workdir
	if tok := os.Getenv(localtopo.PeerTokenEnv); tok != "" {
		o.Env = map[string]string{localtopo.PeerTokenEnv: tok} // else one generated for this run
	}
	topo, err := localtopo.Plan(o)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	fmt.Printf("starting %d collectors of %s ...\n", len(topo.Members()), bin)
	running, err := localtopo.Start(ctx, bin, topo)
	if err != nil {
		return err
	}
	printPorts(os.Stdout, topo)
	fmt.Printf("\nthe gateways authenticate each other on their peer port (%d) with %s, generated for this run unless set\n", localtopo.PortPeer, localtopo.PeerTokenEnv)

	select {
	case <-ctx.Done():
		fmt.Println("\nstopping ...")
	case name := <-running.Done():
		fmt.Printf("%s exited (see its log); stopping the others ...\n", name)
	}
	running.Stop()
	fmt.Println("stopped.")
	return nil
}

func printPorts(w io.Writer, t localtopo.Topology) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "\nsend OTLP to the agent:\tgrpc %s\thttp %s\n", t.Agent.Addr(localtopo.PortOTLPGRPC), t.Agent.Addr(localtopo.PortOTLPHTTP))
	for _, sc := range t.Sidecars {
		fmt.Fprintf(tw, "or to %s:\tgrpc %s\thttp %s\n", sc.Name, sc.Addr(localtopo.PortOTLPGRPC), sc.Addr(localtopo.PortOTLPHTTP))
	}
	fmt.Fprintln(tw, "\nMEMBER\tOTLP/gRPC\tMETRICS\tTOPOLOGY\tLOG")
	for _, m := range t.Members() {
		topology := "-"
		if m.Name != "sink" {
			topology = "http://" + m.Addr(localtopo.PortTopology) + "/topology"
		}
		fmt.Fprintf(tw, "%s\t%s\thttp://%s/metrics\t%s\t%s\n", m.Name, m.Addr(localtopo.PortOTLPGRPC), m.Addr(localtopo.PortMetrics), topology, m.LogFile)
	}
	fmt.Fprintf(tw, "\nthe sink writes what it receives to:\t%s\n", t.SinkFile)
	fmt.Fprintln(tw, "Ctrl-C stops all of them.")
	_ = tw.Flush()
}
