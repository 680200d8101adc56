package main

import (
	"fmt"
	"strings"

	"github.com/nats-io/nats.go"
)

// natsConfig is how a subcommand reaches NATS: where, as which user, over
// which TLS, and below which inbox prefix its replies arrive.
type natsConfig struct {
	url string
	// creds is a JWT credentials file (operator mode, e.g. from nsc);
	// nkey a file holding an nkey seed. At most one is given.
	creds string
	nkey  string
	// tlsCA verifies the server; tlsCert and tlsKey are this client's own
	// certificate, for servers that verify clients.
	tlsCA, tlsCert, tlsKey string
	// inboxPrefix replaces _INBOX in reply subjects, so that a user may be
	// allowed to subscribe below its own prefix only.
	inboxPrefix string
}

// natsFlags adds the connection flags every subcommand that dials NATS
// shares.
func (c *command) natsFlags() *natsConfig {
	nc := &natsConfig{}
	f := c.flags
	f.StringVar(&nc.url, "nats-url", nats.DefaultURL, "NATS server URL, or several comma-separated (also NATS_URL)")
	f.StringVar(&nc.creds, "nats-creds", "", "JWT credentials file of the NATS user (also NATS_CREDS)")
	f.StringVar(&nc.nkey, "nats-nkey", "", "file holding the nkey seed of the NATS user (also NATS_NKEY)")
	f.StringVar(&nc.tlsCA, "nats-tls-ca", "", "CA certificate file that signed the NATS server's certificate; implies TLS (also NATS_CA)")
	f.StringVar(&nc.tlsCert, "nats-tls-cert", "", "client certificate file, for a server that verifies clients (also NATS_CERT)")
	f.StringVar(&nc.tlsKey, "nats-tls-key", "", "key file of --nats-tls-cert (also NATS_KEY)")
	f.StringVar(&nc.inboxPrefix, "nats-inbox-prefix", "", "prefix of this process's reply subjects instead of _INBOX, e.g. _INBOX_gw_worker; the NATS user then needs to subscribe only below it")
	return nc
}

// Validate checks what the flag parser cannot.
func (nc *natsConfig) Validate() error {
	switch {
	case nc.creds != "" && nc.nkey != "":
		return usagef("give --nats-creds or --nats-nkey, not both")
	case (nc.tlsCert == "") != (nc.tlsKey == ""):
		return usagef("--nats-tls-cert and --nats-tls-key go together")
	case nc.inboxPrefix != "" && (strings.ContainsAny(nc.inboxPrefix, "*> \t") || strings.HasSuffix(nc.inboxPrefix, ".")):
		return usagef("--nats-inbox-prefix %q: want a subject without wildcards, spaces or a trailing dot", nc.inboxPrefix)
	}
	return nil
}

// options turns the configuration into connection options.
func (nc *natsConfig) options() ([]nats.Option, error) {
	var opts []nats.Option
	if nc.creds != "" {
		opts = append(opts, nats.UserCredentials(nc.creds))
	}
	if nc.nkey != "" {
		o, err := nats.NkeyOptionFromSeed(nc.nkey)
		if err != nil {
			return nil, fmt.Errorf("--nats-nkey: %w", err)
		}
		opts = append(opts, o)
	}
	if nc.tlsCA != "" {
		opts = append(opts, nats.RootCAs(nc.tlsCA))
	}
	if nc.tlsCert != "" {
		opts = append(opts, nats.ClientCert(nc.tlsCert, nc.tlsKey))
	}
	if nc.inboxPrefix != "" {
		opts = append(opts, nats.CustomInboxPrefix(nc.inboxPrefix))
	}
	return opts, nil
}
