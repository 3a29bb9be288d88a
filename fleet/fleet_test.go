package fleet

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

func openFile(t *testing.T, cfg Config) (*Cache, string) {
	t.Helper()
	dir := t.TempDir()
	cfg.URL = "file://" + filepath.ToSlash(dir) + "?metadata=skip"
	s, err := Open(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close(context.Background(), 0) })
	return s, dir
}

func TestPutThenRead(t *testing.T) {
	s, dir := openFile(t, Config{})
	s.Put("example.com/a/@v/v1.0.0.mod", []byte("module example.com/a\n"))
	src := filepath.Join(t.TempDir(), "z")
	os.WriteFile(src, []byte("zipbytes"), 0o666)
	s.PutFile("example.com/a/@v/v1.0.0.zip", src)
	if n := s.Close(context.Background(), 0); n != 0 {
		t.Fatalf("Close dropped %d writes", n)
	}
	got, err := os.ReadFile(filepath.Join(dir, "example.com/a/@v/v1.0.0.zip"))
	if err != nil || string(got) != "zipbytes" {
		t.Fatalf("zip object = %q, %v", got, err)
	}
	if st := s.Stats(); st.Writes != 2 || st.WriteErrors != 0 {
		t.Fatalf("stats = %+v", st)
	}
	// Writes after Close are dropped, not a panic.
	s.Put("late", []byte("x"))
	if st := s.Stats(); st.Dropped != 1 {
		t.Fatalf("late write: stats = %+v", st)
	}
}

func TestRead(t *testing.T) {
	s, dir := openFile(t, Config{})
	os.MkdirAll(filepath.Join(dir, "m/@v"), 0o777)
	os.WriteFile(filepath.Join(dir, "m/@v/v1.0.0.info"), []byte(`{"Version":"v1.0.0"}`), 0o666)
	var b bytes.Buffer
	if err := s.Read(context.Background(), "m/@v/v1.0.0.info", &b, 100); err != nil || b.String() != `{"Version":"v1.0.0"}` {
		t.Fatalf("Read = %q, %v", b.String(), err)
	}
	if err := s.Read(context.Background(), "m/@v/v2.0.0.info", &b, 100); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("missing object: err = %v, want fs.ErrNotExist", err)
	}
	// An object over the limit is damaged, and the bucket says so itself.
	if err := s.Read(context.Background(), "m/@v/v1.0.0.info", &bytes.Buffer{}, 5); !errors.Is(err, errTooLarge) {
		t.Fatalf("over the limit: err = %v, want errTooLarge", err)
	}
	if st := s.Stats(); st.Hits != 1 || st.Misses != 1 || st.ReadErrors != 0 || st.Damaged != 1 {
		t.Fatalf("stats = %+v", st)
	}
}

func TestHolds(t *testing.T) {
	private := func(p string) bool { return strings.HasPrefix(p, "corp.example/") }
	s, _ := openFile(t, Config{Private: private})
	if s.Holds("corp.example/x") || !s.Holds("example.com/x") {
		t.Fatal("private path held, or public path not held")
	}
	s2, _ := openFile(t, Config{Private: private, IncludePrivate: true})
	if !s2.Holds("corp.example/x") {
		t.Fatal("-cache-private: private path not held")
	}
}

// A bucket that accepts connections and never answers: a read ends after
// ReadTimeout, warns once, and sets the bucket aside, so the next read and
// write are not tried.
func TestStalledBucket(t *testing.T) {
	url := stalledS3(t)
	var warnings []string
	s, err := Open(context.Background(), Config{
		URL:         url,
		ReadTimeout: 200 * time.Millisecond,
		Warn:        func(m string) { warnings = append(warnings, m) },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background(), 0)
	start := time.Now()
	if err := s.Read(context.Background(), "k", &bytes.Buffer{}, 10); err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want a failure of the bucket", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("stalled read took %v", d)
	}
	if err := s.Read(context.Background(), "k2", &bytes.Buffer{}, 10); !errors.Is(err, ErrSetAside) {
		t.Fatalf("second read: err = %v, want ErrSetAside", err)
	}
	s.Put("k3", []byte("x"))
	if st := s.Stats(); st.ReadErrors != 1 || st.Skipped != 2 {
		t.Fatalf("stats = %+v", st)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "no byte for 200ms") {
		t.Fatalf("warnings = %q", warnings)
	}
}

// Close gives up on pending writes when its context ends, and counts
// them as dropped: a stalled bucket does not hold up the end of a run.
func TestCloseDropsPending(t *testing.T) {
	s, err := Open(context.Background(), Config{
		URL:          stalledS3(t),
		WriteTimeout: time.Minute,
		Writers:      1,
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Put("a", []byte("x"))
	s.Put("b", []byte("y"))
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	n := s.Close(ctx, 0)
	if d := time.Since(start); d > 5*time.Second {
		t.Fatalf("Close took %v", d)
	}
	if st := s.Stats(); n != 2 || st.Dropped != 2 || st.Writes != 0 {
		t.Fatalf("Close returned %d; stats = %+v", n, st)
	}
}

// stalledS3 returns an s3:// URL whose endpoint accepts connections and
// never answers, with credentials for the SDK in the environment.
func stalledS3(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	return "s3://b?region=us-east-1&use_path_style=true&endpoint=http://" + ln.Addr().String()
}

// TestFileBucketStaysInside checks that a file:// bucket whose module
// directory is a symlink gets no object written outside its directory,
// and that an object that is a symlink is read as missing.
func TestFileBucketStaysInside(t *testing.T) {
	s, dir := openFile(t, Config{})
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "example.com")); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(outside, "secret")
	os.WriteFile(secret, []byte("SECRET"), 0o666)
	os.MkdirAll(filepath.Join(dir, "m", "@v"), 0o777)
	os.Symlink(secret, filepath.Join(dir, "m", "@v", "v1.0.0.info"))

	var b bytes.Buffer
	if err := s.Read(context.Background(), "m/@v/v1.0.0.info", &b, 100); !errors.Is(err, fs.ErrNotExist) || strings.Contains(b.String(), "SECRET") {
		t.Errorf("symlinked object: Read = %q, %v; want not found", b.String(), err)
	}
	s.Put("example.com/a/@v/v1.0.0.mod", []byte("module example.com/a\n"))
	s.Close(context.Background(), 0)
	if ents, _ := os.ReadDir(outside); len(ents) != 1 {
		t.Errorf("objects were written outside the bucket: %v", ents)
	}
	if st := s.Stats(); st.WriteErrors != 1 {
		t.Errorf("stats = %+v; want the write refused", st)
	}
}
