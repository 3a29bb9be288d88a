package serve

import (
	"crypto/tls"
	"errors"
	"fmt"
	"os"
	"sync"
)

// TLSFiles names a certificate (PEM, the chain after the leaf) and its key
// for Serve to answer HTTPS with. Both are read again when either file
// changes (looked at, on a handshake, at most once a second), so a renewed
// certificate needs no restart; a pair that does not load leaves the one
// in use in place, and the failure is logged.
type TLSFiles struct {
	Cert, Key string
}

// certs holds the loaded pair.
type certs struct {
	files TLSFiles
	warn  func(msg string, err error)

	mu      sync.Mutex
	cert    *tls.Certificate
	stamp   [2]fileStamp
	checked onceASecond // looks at the files
}

func newCerts(files TLSFiles, warn func(string, error)) (*certs, error) {
	c := &certs{files: files, warn: warn}
	if err := c.load(); err != nil {
		return nil, err
	}
	return c, nil
}

func stampOf(file string) (fileStamp, error) {
	fi, err := os.Stat(file)
	if err != nil {
		return fileStamp{}, err
	}
	return fileStamp{fi.Size(), fi.ModTime()}, nil
}

// load reads the pair if either file changed.
func (c *certs) load() error {
	var st [2]fileStamp
	var err error
	for i, f := range []string{c.files.Cert, c.files.Key} {
		if st[i], err = stampOf(f); err != nil {
			return err
		}
	}
	c.mu.Lock()
	same := c.cert != nil && st == c.stamp
	c.mu.Unlock()
	if same {
		return nil
	}
	pair, err := tls.LoadX509KeyPair(c.files.Cert, c.files.Key)
	if err != nil {
		return fmt.Errorf("loading the TLS certificate %s and key %s: %w", c.files.Cert, c.files.Key, err)
	}
	c.mu.Lock()
	c.cert, c.stamp = &pair, st
	c.mu.Unlock()
	return nil
}

// get is tls.Config.GetCertificate.
func (c *certs) get(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	if c.checked.due() {
		if err := c.load(); err != nil {
			c.warn("TLS certificate not reloaded; the one in use stays", err)
		}
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.cert == nil {
		return nil, errors.New("no certificate")
	}
	return c.cert, nil
}

// tlsConfig is what Serve answers HTTPS with.
func (c *certs) tlsConfig() *tls.Config {
	return &tls.Config{GetCertificate: c.get, MinVersion: tls.VersionTLS12, NextProtos: []string{"h2", "http/1.1"}}
}
