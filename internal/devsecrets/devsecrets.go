// Package devsecrets makes throwaway credentials for tests and for trying
// the production shape on one machine (`ghostwriter devsecrets`, which
// the compose file runs first): a CA with a server and a client
// certificate, and nkey users. Production secrets come from the
// operator's own CA and `nk`/`nsc`, never from here: keys sit on disk
// unencrypted and the CA's key is thrown away.
package devsecrets

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"

	"github.com/nats-io/nkeys"
)

// TLS names the files WriteTLS wrote.
type TLS struct {
	// CA is the certificate that signed the other two.
	CA string
	// Cert and Key are the server's, valid for the hosts given, and also
	// usable as a client certificate between cluster peers.
	Cert, Key string
	// ClientCert and ClientKey are a client's, for servers that verify
	// clients (mTLS).
	ClientCert, ClientKey string
}

// WriteTLS writes a new CA, a server certificate for hosts (names or IP
// addresses) and a client certificate into dir as ca.crt, tls.crt,
// tls.key, client.crt and client.key; keys are readable by their owner
// only. The certificates are valid for a year.
func WriteTLS(dir string, hosts []string) (TLS, error) {
	files := TLS{
		CA: filepath.Join(dir, "ca.crt"), Cert: filepath.Join(dir, "tls.crt"), Key: filepath.Join(dir, "tls.key"),
		ClientCert: filepath.Join(dir, "client.crt"), ClientKey: filepath.Join(dir, "client.key"),
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return TLS{}, fmt.Errorf("devsecrets.tls: %w", err)
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return TLS{}, fmt.Errorf("devsecrets.tls: %w", err)
	}
	ca := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: "ghostwriter development CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.AddDate(1, 0, 0),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		return TLS{}, fmt.Errorf("devsecrets.tls: %w", err)
	}
	if err := writePEM(files.CA, "CERTIFICATE", caDER, 0o644); err != nil {
		return TLS{}, err
	}
	leaf := func(cn string, hosts []string, usage []x509.ExtKeyUsage, certFile, keyFile string) error {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return fmt.Errorf("devsecrets.tls: %w", err)
		}
		tmpl := &x509.Certificate{
			SerialNumber: serial(),
			Subject:      pkix.Name{CommonName: cn},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.AddDate(1, 0, 0),
			KeyUsage:     x509.KeyUsageDigitalSignature,
			ExtKeyUsage:  usage,
		}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return fmt.Errorf("devsecrets.tls %s: %w", cn, err)
		}
		keyDER, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return fmt.Errorf("devsecrets.tls %s: %w", cn, err)
		}
		if err := writePEM(certFile, "CERTIFICATE", der, 0o644); err != nil {
			return err
		}
		return writePEM(keyFile, "PRIVATE KEY", keyDER, 0o600)
	}
	both := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
	if err := leaf("nats server", hosts, both, files.Cert, files.Key); err != nil {
		return TLS{}, err
	}
	if err := leaf("ghostwriter client", nil, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, files.ClientCert, files.ClientKey); err != nil {
		return TLS{}, err
	}
	return files, nil
}

// User is an nkey user: its public key goes into the server's
// configuration, its seed file to the client.
type User struct {
	Name     string
	Public   string
	SeedFile string
}

// WriteUsers makes one nkey user per name, its seed in dir/<name>.nk,
// readable by its owner only.
func WriteUsers(dir string, names []string) ([]User, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("devsecrets.users: %w", err)
	}
	users := make([]User, 0, len(names))
	for _, name := range names {
		kp, err := nkeys.CreateUser()
		if err != nil {
			return nil, fmt.Errorf("devsecrets.users %s: %w", name, err)
		}
		pub, err := kp.PublicKey()
		if err != nil {
			return nil, fmt.Errorf("devsecrets.users %s: %w", name, err)
		}
		seed, err := kp.Seed()
		if err != nil {
			return nil, fmt.Errorf("devsecrets.users %s: %w", name, err)
		}
		file := filepath.Join(dir, name+".nk")
		err = writeFile(file, append(seed, '\n'), 0o600)
		kp.Wipe()
		if err != nil {
			return nil, err
		}
		users = append(users, User{Name: name, Public: pub, SeedFile: file})
	}
	return users, nil
}

// Password returns n random bytes as 2n hex digits.
func Password(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // never fails (crypto/rand)
	return fmt.Sprintf("%x", b)
}

func serial() *big.Int {
	n, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 126))
	return n
}

func writePEM(path, typ string, der []byte, mode os.FileMode) error {
	return writeFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), mode)
}

// writeFile writes data with mode, whatever an older file's mode was.
func writeFile(path string, data []byte, mode os.FileMode) error {
	_ = os.Remove(path)
	if err := os.WriteFile(path, data, mode); err != nil {
		return fmt.Errorf("devsecrets: %w", err)
	}
	return nil
}
