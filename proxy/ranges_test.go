package proxy

import (
	"bytes"
	"context"
	"math/rand/v2"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gomodfetch/internal/faultproxy"
)

// fileDest is a Dest on a temp file.
type fileDest struct{ *os.File }

// TestGetFileRanges: a body cut at 90% is resumed from its last byte, so
// finishing it costs about the remaining 10%; a large body comes in
// parallel ranges; a proxy that ignores ranges still gets the whole body.
func TestGetFileRanges(t *testing.T) {
	dir := t.TempDir()
	body := make([]byte, 40<<20)
	rand.NewChaCha8([32]byte{1}).Read(body)
	file := filepath.Join(dir, "example.com", "m", "@v", "v1.0.0.zip")
	if err := os.MkdirAll(filepath.Dir(file), 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, body, 0o666); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		rules    string
		parallel int
		maxBytes float64 // of the body's size, served in all
		minReqs  int64
	}{
		{"whole", "", 1, 1.0, 1},
		{"cut at 90% resumes", "*.zip reset-at 0.9 x1", 1, 1.15, 2},
		{"parallel ranges", "", 4, 1.5, 2}, // the first response runs on past its range until it is closed
		{"parallel with a cut", "*.zip reset-at 0.3 x2", 4, 1.6, 3},
		{"ranges ignored", "*.zip ignore-range", 4, 2.05, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rules, err := faultproxy.ParseRules("rules", strings.NewReader(tt.rules))
			if err != nil {
				t.Fatal(err)
			}
			px, err := faultproxy.Start(faultproxy.Options{Dir: dir, Rules: rules})
			if err != nil {
				t.Fatal(err)
			}
			defer px.Close()
			u, _ := url.Parse(px.URL + "/example.com/m/@v/v1.0.0.zip")
			f, err := os.Create(filepath.Join(t.TempDir(), "out"))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			c := &Client{HTTP: NewHTTPClient(0, 0, 8), Parallel: tt.parallel}
			n, err := c.GetFile(context.Background(), u, fileDest{f}, 500<<20)
			if err != nil {
				t.Fatalf("GetFile: %v", err)
			}
			got, _ := os.ReadFile(f.Name())
			if n != int64(len(body)) || !bytes.Equal(got, body) {
				t.Fatalf("got %d bytes (file %d), not the body (%d)", n, len(got), len(body))
			}
			st := px.Stats()
			if float64(st.Bytes) > tt.maxBytes*float64(len(body)) {
				t.Errorf("the proxy served %.2f of the body's size; want at most %.2f", float64(st.Bytes)/float64(len(body)), tt.maxBytes)
			}
			if st.Requests < tt.minReqs {
				t.Errorf("%d requests; want at least %d", st.Requests, tt.minReqs)
			}
		})
	}
}
