//go:build !gomodfetch_nogcs

package fleet

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"gomodfetch/internal/fakegcs"
)

// fakeGS serves bucket bkt from a fake GCS on loopback and points
// STORAGE_EMULATOR_HOST at it; while *deny is set it answers 403.
func fakeGS(t *testing.T) (fake *fakegcs.Server, deny *atomic.Bool) {
	t.Helper()
	fake, deny = fakegcs.New("bkt"), new(atomic.Bool)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if deny.Load() {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			w.Write([]byte(`{"error":{"code":403,"message":"ci@p.iam.gserviceaccount.com does not have storage.objects.get access to the Google Cloud Storage object.","errors":[{"domain":"global","reason":"forbidden"}]}}`))
			return
		}
		fake.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	t.Setenv("STORAGE_EMULATOR_HOST", srv.Listener.Addr().String())
	return fake, deny
}

func openGS(t *testing.T, cfg Config) *Cache {
	t.Helper()
	cfg.URL = "gs://bkt?prefix=fleet/"
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background(), 0) })
	return s
}

func TestGSPutThenRead(t *testing.T) {
	fake, _ := fakeGS(t)
	s := openGS(t, Config{})
	s.Put("example.com/a/@v/v1.0.0.mod", []byte("module example.com/a\n"))
	zip := filepath.Join(t.TempDir(), "z")
	os.WriteFile(zip, []byte("zipbytes"), 0o666)
	s.PutFile("example.com/a/@v/v1.0.0.zip", zip)
	if n := s.Close(context.Background(), 0); n != 0 {
		t.Fatalf("Close dropped %d writes", n)
	}
	if st := s.Stats(); st.Writes != 2 || st.WriteErrors != 0 {
		t.Fatalf("stats = %+v", st)
	}
	o := fake.Object("bkt", "fleet/example.com/a/@v/v1.0.0.zip")
	if o == nil || string(o.Data) != "zipbytes" || o.ContentType != "application/zip" {
		t.Fatalf("zip object = %+v", o)
	}

	s2 := openGS(t, Config{})
	var b bytes.Buffer
	if err := s2.Read(context.Background(), "example.com/a/@v/v1.0.0.mod", &b, 100); err != nil || b.String() != "module example.com/a\n" {
		t.Fatalf("Read = %q, %v", b.String(), err)
	}
	if err := s2.Read(context.Background(), "example.com/a/@v/v2.0.0.mod", &b, 100); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing object: err = %v, want fs.ErrNotExist", err)
	}
	if st := s2.Stats(); st.Hits != 1 || st.Misses != 1 || st.ReadErrors != 0 {
		t.Fatalf("stats = %+v", st)
	}
}

// A bucket that refuses access is a failure, not a miss (gcsblob called
// 403 "not found"): the run warns once and sets the bucket aside.
func TestGSPermissionDenied(t *testing.T) {
	_, deny := fakeGS(t)
	deny.Store(true)
	var warnings []string
	s := openGS(t, Config{Warn: func(m string) { warnings = append(warnings, m) }})
	if err := s.Read(context.Background(), "m/@v/v1.0.0.info", &bytes.Buffer{}, 100); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want a failure of the bucket", err)
	}
	if err := s.Read(context.Background(), "m/@v/v1.0.1.info", &bytes.Buffer{}, 100); !errors.Is(err, ErrSetAside) {
		t.Fatalf("second read: err = %v, want ErrSetAside", err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "storage.objects.get access") {
		t.Fatalf("warnings = %q", warnings)
	}
}

// Without credentials the bucket opens (the run goes on) and the first
// read says what is missing.
func TestGSNoCredentials(t *testing.T) {
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "missing.json"))
	var warnings []string
	s, err := Open(context.Background(), Config{URL: "gs://bkt", Warn: func(m string) { warnings = append(warnings, m) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background(), 0)
	if err := s.Read(context.Background(), "m/@v/v1.0.0.info", &bytes.Buffer{}, 100); err == nil || s.Stats().ReadErrors != 1 {
		t.Fatalf("err = %v, stats %+v; want a failure of the bucket", err, s.Stats())
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "no usable Google credentials") {
		t.Fatalf("warnings = %q", warnings)
	}
}

func TestGSBadURL(t *testing.T) {
	_, err := Open(context.Background(), Config{URL: "gs://bkt?region=eu"})
	if err == nil || !strings.Contains(err.Error(), `invalid query parameter "region"`) {
		t.Fatalf("err = %v", err)
	}
}
