package serve

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeCert writes a self-signed certificate for 127.0.0.1 with the given
// serial number, and its key.
func writeCert(t *testing.T, certFile, keyFile string, serial int64) *x509.Certificate {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(serial), Subject: pkix.Name{CommonName: "serve test"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, _ := x509.MarshalECPrivateKey(key)
	os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder}), 0o600)
	os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644)
	cert, _ := x509.ParseCertificate(der)
	return cert
}

// TestTLS: serve answers HTTPS, picks up a renewed certificate without a
// restart, and keeps the one in use when a replacement does not load.
func TestTLS(t *testing.T) {
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	first := writeCert(t, certFile, keyFile, 1)
	st := newSetup(t, func(c *Config) { c.TLS = &TLSFiles{Cert: certFile, Key: keyFile} })
	addr := serveListener(t, st)
	served := func() (int64, error) {
		conn, err := tls.Dial("tcp", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			return 0, err
		}
		defer conn.Close()
		return conn.ConnectionState().PeerCertificates[0].SerialNumber.Int64(), nil
	}
	pool := x509.NewCertPool()
	pool.AddCert(first)
	hc := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	resp, err := hc.Get("https://" + addr + "/example.com/m/@v/v1.0.0.mod")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("over TLS: %d", resp.StatusCode)
	}
	// Nothing is served in clear: plain HTTP on the port gets 400.
	if resp, err := http.Get("http://" + addr + "/example.com/m/@v/v1.0.0.mod"); err == nil {
		resp.Body.Close()
		if resp.StatusCode != 400 {
			t.Errorf("plain HTTP on the TLS port: %d; want 400", resp.StatusCode)
		}
	}

	time.Sleep(10 * time.Millisecond)
	writeCert(t, certFile, keyFile, 2)
	waitFor(t, "the renewed certificate served", func() bool { n, err := served(); return err == nil && n == 2 })

	os.WriteFile(keyFile, []byte("not a key"), 0o600)
	time.Sleep(1100 * time.Millisecond)
	if n, err := served(); err != nil || n != 2 {
		t.Errorf("after a broken key: serial %d, %v; want the certificate in use (2)", n, err)
	}
}

// TestTLSBadFiles: Serve fails at once when the pair does not load.
func TestTLSBadFiles(t *testing.T) {
	st := newSetup(t, func(c *Config) { c.TLS = &TLSFiles{Cert: "/nonexistent/cert.pem", Key: "/nonexistent/key.pem"} })
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	if err := st.s.Serve(l); err == nil {
		t.Fatal("Serve with missing certificate files returned nil")
	}
}
