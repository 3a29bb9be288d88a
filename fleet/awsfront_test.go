package fleet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// awsFront is a thin loopback S3 endpoint (path-style, one bucket) that
// answers as AWS documents for what no local S3 server reproduces:
//
//   - GetObject of a key that does not exist, by a credential without
//     s3:ListBucket: 403 with code AccessDenied ("If you don't have the
//     s3:ListBucket permission, Amazon S3 returns an HTTP status code 403
//     (access denied) error", GetObject API reference, Permissions);
//   - a PutObject by a credential without s3:PutObject: 403 AccessDenied;
//   - a request whose signature does not verify: 403 SignatureDoesNotMatch.
//
// It checks no signature itself: badSig makes it answer as if none
// verified.
type awsFront struct {
	mu       sync.Mutex
	objs     map[string][]byte
	readOnly bool          // PUT answers 403 AccessDenied
	badSig   bool          // every request answers 403 SignatureDoesNotMatch
	putDelay time.Duration // each PUT takes this long, plus a byte rate below
	perMiB   time.Duration
	puts     int
	headers  http.Header   // extra headers on every GET answer
	trickle  time.Duration // a GET answer sends one byte this often
}

func newAWSFront(t *testing.T) (*awsFront, string) {
	f := &awsFront{objs: map[string][]byte{}}
	srv := httptest.NewServer(f)
	t.Cleanup(srv.Close)
	t.Setenv("AWS_ACCESS_KEY_ID", "k")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "s")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	return f, "s3://b?region=us-east-1&use_path_style=true&endpoint=" + srv.URL
}

func (f *awsFront) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	key, ok := strings.CutPrefix(r.URL.Path, "/b/")
	f.mu.Lock()
	badSig, readOnly, delay, perMiB := f.badSig, f.readOnly, f.putDelay, f.perMiB
	f.mu.Unlock()
	switch {
	case !ok:
		awsError(w, http.StatusNotFound, "NoSuchBucket")
	case badSig:
		io.Copy(io.Discard, r.Body)
		awsError(w, http.StatusForbidden, "SignatureDoesNotMatch")
	case r.Method == http.MethodGet:
		f.mu.Lock()
		data, found := f.objs[key]
		h, trickle := f.headers, f.trickle
		f.mu.Unlock()
		if !found {
			awsError(w, http.StatusForbidden, "AccessDenied")
			return
		}
		for k, v := range h {
			w.Header()[k] = v
		}
		w.Header().Set("Content-Length", fmt.Sprint(len(data)))
		if trickle == 0 {
			w.Write(data)
			return
		}
		for i := range data {
			w.Write(data[i : i+1])
			w.(http.Flusher).Flush()
			select {
			case <-time.After(trickle):
			case <-r.Context().Done():
				return
			}
		}
	case r.Method == http.MethodPut:
		data, err := io.ReadAll(r.Body)
		if err != nil {
			return
		}
		if readOnly {
			awsError(w, http.StatusForbidden, "AccessDenied")
			return
		}
		select {
		case <-time.After(delay + perMiB*time.Duration(len(data))/(1<<20)):
		case <-r.Context().Done():
			return
		}
		f.mu.Lock()
		f.objs[key] = decodeChunked(r, data)
		f.puts++
		f.mu.Unlock()
		w.WriteHeader(http.StatusOK)
	default:
		awsError(w, http.StatusNotImplemented, "NotImplemented")
	}
}

// decodeChunked undoes the SDK's aws-chunked content encoding (used when it
// sends a trailing checksum), as S3 does.
func decodeChunked(r *http.Request, data []byte) []byte {
	if !strings.Contains(r.Header.Get("Content-Encoding"), "aws-chunked") {
		return data
	}
	var out []byte
	for len(data) > 0 {
		line, rest, _ := bytes.Cut(data, []byte("\r\n"))
		var n int
		fmt.Sscanf(string(line), "%x", &n)
		if n == 0 {
			break
		}
		out = append(out, rest[:n]...)
		data = rest[n+2:]
	}
	return out
}

func awsError(w http.ResponseWriter, status int, code string) {
	w.Header().Set("Content-Type", "application/xml")
	w.WriteHeader(status)
	fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>%s</Code><Message>%s</Message><RequestId>1</RequestId></Error>`, code, code)
}

// A missing key answered 403 AccessDenied (AWS, without s3:ListBucket)
// is missing: no warning, the bucket is not set aside, and the next read
// is served. A signature the bucket refuses is a fault of the
// configuration: one warning, the bucket set aside.
func TestAccessDeniedIsMissing(t *testing.T) {
	front, url := newAWSFront(t)
	front.objs["m/@v/v1.0.0.mod"] = []byte("module m\n")
	var warnings []string
	s, err := Open(context.Background(), Config{URL: url, Warn: func(m string) { warnings = append(warnings, m) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background(), 0)
	ctx := context.Background()
	for range 3 {
		if err := s.Read(ctx, "m/@v/v2.0.0.mod", &bytes.Buffer{}, 100); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("missing key answered 403: err = %v, want fs.ErrNotExist", err)
		}
	}
	var b bytes.Buffer
	if err := s.Read(ctx, "m/@v/v1.0.0.mod", &b, 100); err != nil || b.String() != "module m\n" {
		t.Fatalf("read after 403s = %q, %v", b.String(), err)
	}
	if st := s.Stats(); st.Hits != 1 || st.Misses != 3 || st.Denied != 3 || st.ReadErrors != 0 || st.Skipped != 0 {
		t.Fatalf("stats = %+v", st)
	}
	if len(warnings) != 0 {
		t.Fatalf("warnings = %q", warnings)
	}

	front.mu.Lock()
	front.badSig = true
	front.mu.Unlock()
	err = s.Read(ctx, "m/@v/v1.0.0.mod", &bytes.Buffer{}, 100)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("bad signature: err = %v, want a fault of the bucket", err)
	}
	if err := s.Read(ctx, "m/@v/v1.0.0.mod", &bytes.Buffer{}, 100); !errors.Is(err, ErrSetAside) {
		t.Fatalf("after a bad signature: err = %v, want ErrSetAside", err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "SignatureDoesNotMatch") {
		t.Fatalf("warnings = %q", warnings)
	}
}

// A write refused with 403 AccessDenied (a read-only credential) makes the
// bucket read-only, with one warning; reads go on.
func TestWriteRefusedReadOnly(t *testing.T) {
	front, url := newAWSFront(t)
	front.readOnly = true
	front.objs["m/@v/v1.0.0.mod"] = []byte("module m\n")
	var mu sync.Mutex
	var warnings []string
	s, err := Open(context.Background(), Config{URL: url, Writers: 1, Warn: func(m string) {
		mu.Lock()
		defer mu.Unlock()
		warnings = append(warnings, m)
	}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		s.Put(fmt.Sprintf("m/@v/v1.0.%d.info", i+1), []byte("{}"))
	}
	if n := s.Close(context.Background(), 10*time.Second); n != 0 {
		t.Fatalf("Close dropped %d", n)
	}
	st := s.Stats()
	if !st.ReadOnly || st.WriteErrors != 0 || st.Writes != 0 || st.Dropped != 0 {
		t.Fatalf("stats = %+v", st)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "reading only from now on") {
		t.Fatalf("warnings = %q", warnings)
	}
	front.mu.Lock()
	if front.puts != 0 {
		t.Fatalf("%d objects written", front.puts)
	}
	front.readOnly = false
	front.mu.Unlock()

	// Reads go on; set read-only, nothing is even tried.
	s, err = Open(context.Background(), Config{URL: url, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background(), 0)
	var b bytes.Buffer
	if err := s.Read(context.Background(), "m/@v/v1.0.0.mod", &b, 100); err != nil || b.String() != "module m\n" {
		t.Fatalf("read-only read = %q, %v", b.String(), err)
	}
	s.Put("m/@v/v9.0.0.mod", []byte("x"))
	s.Close(context.Background(), time.Second)
	front.mu.Lock()
	defer front.mu.Unlock()
	if st := s.Stats(); !st.ReadOnly || st.Writes != 0 || front.puts != 0 {
		t.Fatalf("ReadOnly: stats = %+v, %d puts", st, front.puts)
	}
}

// A cold run's write-backs against a slow bucket: hundreds of small
// objects behind a few large zips that each take long to write. Every
// one is written: small objects have writers of their own, zips wait as
// file names, and Close waits while writes progress.
func TestSlowBucketWritesAll(t *testing.T) {
	front, url := newAWSFront(t)
	front.putDelay = 5 * time.Millisecond
	front.perMiB = 300 * time.Millisecond
	s, err := Open(context.Background(), Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	const zips, small = 24, 600
	zip := bytes.Repeat([]byte("z"), 2<<20)
	for i := range zips {
		file := filepath.Join(dir, fmt.Sprint(i))
		if err := os.WriteFile(file, zip, 0o666); err != nil {
			t.Fatal(err)
		}
		s.PutFile(fmt.Sprintf("m%d/@v/v1.0.0.zip", i), file)
		for j := range small / zips {
			s.Put(fmt.Sprintf("m%d/@v/v1.0.%d.mod", i, j), []byte("module m\n"))
		}
	}
	if n := s.Close(context.Background(), 5*time.Second); n != 0 {
		t.Fatalf("Close dropped %d", n)
	}
	if st := s.Stats(); st.Writes != zips+small || st.Dropped != 0 || st.WriteErrors != 0 {
		t.Fatalf("stats = %+v", st)
	}
	front.mu.Lock()
	defer front.mu.Unlock()
	if len(front.objs) != zips+small || !bytes.Equal(front.objs["m3/@v/v1.0.0.zip"], zip) {
		t.Fatalf("%d objects in the bucket, want %d", len(front.objs), zips+small)
	}
}

// The S3 SDK's own log lines never reach stderr: an object uploaded in
// parts is answered with a composite checksum, which the SDK cannot check
// and says so ("WARN Skipped validation of multipart checksum") unless
// told to be quiet.
func TestS3SDKSilent(t *testing.T) {
	front, url := newAWSFront(t)
	big := bytes.Repeat([]byte("b"), 9<<20)
	front.objs["m/@v/v1.0.0.zip"] = big
	front.headers = http.Header{
		"X-Amz-Checksum-Crc32": {"AAAAAA==-2"},
		"X-Amz-Checksum-Type":  {"COMPOSITE"},
	}
	stderr := captureStderr(t)
	s, err := Open(context.Background(), Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := s.Read(context.Background(), "m/@v/v1.0.0.zip", &b, 10<<20); err != nil || b.Len() != len(big) {
		t.Fatalf("Read = %d bytes, %v", b.Len(), err)
	}
	s.Close(context.Background(), 0)
	if out := stderr(); out != "" {
		t.Fatalf("stderr = %q, want nothing", out)
	}
}

// captureStderr points os.Stderr at a pipe until the returned function is
// called, which returns what was written.
func captureStderr(t *testing.T) func() string {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stderr
	os.Stderr = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	restored := false
	restore := func() string {
		if restored {
			return ""
		}
		restored = true
		os.Stderr = old
		w.Close()
		return <-done
	}
	t.Cleanup(func() { restore() })
	return restore
}

// A bucket that sends a byte now and then, never stalling for
// ReadTimeout, is cut once it falls under the minimum rate: the read ends
// in bounded time, as a fault of the bucket.
func TestTricklingBucket(t *testing.T) {
	front, url := newAWSFront(t)
	front.objs["m/@v/v1.0.0.zip"] = bytes.Repeat([]byte("z"), 1<<20)
	front.trickle = 20 * time.Millisecond
	var warnings []string
	s, err := Open(context.Background(), Config{URL: url, ReadTimeout: 200 * time.Millisecond, Warn: func(m string) { warnings = append(warnings, m) }})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background(), 0)
	start := time.Now()
	err = s.Read(context.Background(), "m/@v/v1.0.0.zip", &bytes.Buffer{}, 2<<20)
	if err == nil || errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("err = %v, want a fault of the bucket", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("trickling read took %v", d)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "or under 64 KiB/s") {
		t.Fatalf("warnings = %q", warnings)
	}
}

// A zip to write back that was replaced by a symlink in the module cache
// (to a secret, say) is not uploaded.
func TestPutFileNoSymlink(t *testing.T) {
	front, url := newAWSFront(t)
	s, err := Open(context.Background(), Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	secret := filepath.Join(dir, "credentials")
	if err := os.WriteFile(secret, []byte("aws_secret_access_key = x"), 0o600); err != nil {
		t.Fatal(err)
	}
	zip := filepath.Join(dir, "v1.0.0.zip")
	if err := os.Symlink(secret, zip); err != nil {
		t.Fatal(err)
	}
	s.PutFile("m/@v/v1.0.0.zip", zip)
	s.Close(context.Background(), 5*time.Second)
	front.mu.Lock()
	defer front.mu.Unlock()
	if len(front.objs) != 0 || s.Stats().Writes != 0 {
		t.Fatalf("a symlinked file was uploaded: %d objects, %+v", len(front.objs), s.Stats())
	}
}
