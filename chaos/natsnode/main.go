// Command natsnode runs one nats-server with JetStream for the chaos
// suite, as a child process the suite can SIGKILL: a real crash, and a
// server the race detector does not slow down. It prints "ready" on
// stdout once it accepts clients, and shuts down cleanly on SIGTERM.
// Test tooling only; ghostwriter does not ship it.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

func main() {
	name := flag.String("name", "chaos", "server name")
	port := flag.Int("port", 4222, "client port on 127.0.0.1")
	store := flag.String("store", "", "JetStream store folder")
	clusterPort := flag.Int("cluster-port", 0, "cluster port on 127.0.0.1; 0: no cluster")
	routes := flag.String("routes", "", "comma-separated nats-route:// URLs of every node")
	flag.Parse()
	opts := &server.Options{ServerName: *name, Host: "127.0.0.1", Port: *port, JetStream: true, StoreDir: *store, NoSigs: true, NoLog: true}
	if *clusterPort > 0 {
		opts.Cluster = server.ClusterOpts{Name: "chaos", Host: "127.0.0.1", Port: *clusterPort}
		opts.Routes = server.RoutesFromStr(*routes)
	}
	s, err := server.NewServer(opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, "natsnode:", err)
		os.Exit(1)
	}
	s.Start()
	if !s.ReadyForConnections(30 * time.Second) {
		fmt.Fprintln(os.Stderr, "natsnode: not ready after 30s")
		os.Exit(1)
	}
	fmt.Println("ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	<-sig
	s.Shutdown()
	s.WaitForShutdown()
}
