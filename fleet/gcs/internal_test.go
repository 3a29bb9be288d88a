package gcs

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestEmulatorEndpoint(t *testing.T) {
	for host, want := range map[string]string{
		"127.0.0.1:4443":                "http://127.0.0.1:4443/storage/v1/",
		"localhost:4443":                "http://localhost:4443/storage/v1/",
		"http://127.0.0.1:4443":         "http://127.0.0.1:4443/storage/v1/",
		"https://gcs.internal:8443":     "https://gcs.internal:8443/storage/v1/",
		"http://127.0.0.1:4443/ignored": "http://127.0.0.1:4443/storage/v1/",
	} {
		if got, err := emulatorEndpoint(host); got != want || err != nil {
			t.Errorf("emulatorEndpoint(%q) = %q, %v; want %q", host, got, err, want)
		}
	}
	if _, err := emulatorEndpoint("http://"); err == nil {
		t.Error(`emulatorEndpoint("http://"): no error`)
	}
}

func TestSizedBuffer(t *testing.T) {
	const def = 16 << 20
	f := filepath.Join(t.TempDir(), "f")
	os.WriteFile(f, make([]byte, 1000), 0o666)
	fh, err := os.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	for _, tc := range []struct {
		buffer int
		r      any
		want   int
	}{
		{def, bytes.NewReader(make([]byte, 10)), 11},
		{def, strings.NewReader(""), 1},
		{def, fh, 1001},
		{def, bytes.NewReader(make([]byte, def)), def}, // not smaller: as asked
		{def, struct{ *os.File }{fh}, def},             // size unknown
	} {
		r, _ := tc.r.(interface{ Read([]byte) (int, error) })
		if got := sizedBuffer(tc.buffer, r); got != tc.want {
			t.Errorf("sizedBuffer(%d, %T) = %d, want %d", tc.buffer, tc.r, got, tc.want)
		}
	}
}

func TestBufferSize(t *testing.T) {
	for _, tc := range []struct{ in, want int }{
		{0, 16 << 20},
		{-1, 256 << 10}, // unbuffered: the smallest resumable chunks, never one streamed request
		{512 << 10, 512 << 10},
	} {
		if got := bufferSize(tc.in); got != tc.want {
			t.Errorf("bufferSize(%d) = %d, want %d", tc.in, got, tc.want)
		}
	}
}
