package gcs_test

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
	"google.golang.org/api/googleapi"
	"google.golang.org/api/option"
	storage "google.golang.org/api/storage/v1"

	"gomodfetch/fleet/gcs"
	"gomodfetch/internal/fakegcs"
)

func init() { blob.DefaultURLMux().RegisterBucket(gcs.Scheme, gcs.URLOpener{}) }

// harness is the fake GCS on loopback, with a log of the requests it got.
type harness struct {
	fake *fakegcs.Server
	srv  *httptest.Server

	mu   sync.Mutex
	reqs []string // "METHOD /path uploadType"
	auth []string // the Authorization header of each request
	// intercept, if set, may answer a request instead of the fake.
	intercept func(w http.ResponseWriter, r *http.Request) bool
}

func newHarness(t *testing.T) *harness {
	t.Helper()
	h := &harness{fake: fakegcs.New("bkt")}
	h.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.reqs = append(h.reqs, r.Method+" "+r.URL.Path+" "+r.URL.Query().Get("uploadType"))
		h.auth = append(h.auth, r.Header.Get("Authorization"))
		icpt := h.intercept
		h.mu.Unlock()
		if icpt != nil && icpt(w, r) {
			return
		}
		h.fake.ServeHTTP(w, r)
	}))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *harness) setIntercept(f func(w http.ResponseWriter, r *http.Request) bool) {
	h.mu.Lock()
	h.intercept = f
	h.mu.Unlock()
}

func (h *harness) requests() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.reqs...)
}

func (h *harness) authHeaders() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return append([]string(nil), h.auth...)
}

// emulated points STORAGE_EMULATOR_HOST at the harness and opens
// gs://bkt with the query q.
func emulated(t *testing.T, q string) (*harness, *blob.Bucket) {
	t.Helper()
	h := newHarness(t)
	t.Setenv("STORAGE_EMULATOR_HOST", h.srv.Listener.Addr().String())
	b, err := blob.OpenBucket(context.Background(), "gs://bkt"+q)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return h, b
}

func TestRoundTrip(t *testing.T) {
	h, b := emulated(t, "")
	ctx := context.Background()
	data := []byte(`{"Version":"v1.0.0","Time":"2024-01-01T00:00:00Z"}`)
	sum := md5.Sum(data)
	key := "example.com/a b/ü/@v/v1.0.0+incompatible?#%.info"
	err := b.WriteAll(ctx, key, data, &blob.WriterOptions{
		ContentType: "application/json",
		ContentMD5:  sum[:],
		Metadata:    map[string]string{"origin": "proxy.golang.org"},
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.ReadAll(ctx, key)
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("ReadAll = %q, %v", got, err)
	}
	stored := h.fake.Object("bkt", key)
	if stored == nil || stored.ContentType != "application/json" || stored.Metadata["origin"] != "proxy.golang.org" {
		t.Fatalf("stored object = %+v", stored)
	}
	a, err := b.Attributes(ctx, key)
	if err != nil {
		t.Fatal(err)
	}
	if a.Size != int64(len(data)) || a.ContentType != "application/json" || !bytes.Equal(a.MD5, sum[:]) ||
		a.Metadata["origin"] != "proxy.golang.org" || a.ModTime.IsZero() || a.CreateTime.IsZero() ||
		!strings.HasPrefix(a.ETag, `"`) || !strings.HasSuffix(a.ETag, `"`) || len(a.ETag) < 3 {
		t.Fatalf("attributes = %+v", a)
	}
	var obj storage.Object
	if !a.As(&obj) || obj.Name != key || obj.Generation != stored.Generation {
		t.Fatalf("Attributes.As(*storage.Object) = %+v", obj)
	}
	// A small object goes in one multipart request.
	if !contains(h.requests(), "POST /upload/storage/v1/b/bkt/o multipart") {
		t.Errorf("requests = %q, want a multipart upload", h.requests())
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

func TestEmptyObject(t *testing.T) {
	_, b := emulated(t, "")
	ctx := context.Background()
	w, err := b.NewWriter(ctx, "empty", nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	r, err := b.NewReader(ctx, "empty", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got, err := io.ReadAll(r)
	if err != nil || len(got) != 0 || r.Size() != 0 {
		t.Fatalf("read %q (size %d), %v", got, r.Size(), err)
	}
}

func TestRanges(t *testing.T) {
	_, b := emulated(t, "")
	ctx := context.Background()
	content := []byte("abcdefghijklmnopqrstuvwxyz")
	if err := b.WriteAll(ctx, "k", content, &blob.WriterOptions{ContentType: "text/plain"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		offset, length int64
		want           string
	}{
		{0, -1, string(content)},
		{0, -42, string(content)},
		{10, -1, string(content[10:])},
		{10, 5, string(content[10:15])},
		{0, 1, "a"},
		{25, 1, "z"},
		{20, 100, string(content[20:])}, // past the end: up to the end
		{0, 0, ""},
		{10, 0, ""},
	} {
		r, err := b.NewRangeReader(ctx, "k", tc.offset, tc.length, nil)
		if err != nil {
			t.Errorf("NewRangeReader(%d, %d): %v", tc.offset, tc.length, err)
			continue
		}
		got, err := io.ReadAll(r)
		r.Close()
		if err != nil || string(got) != tc.want {
			t.Errorf("NewRangeReader(%d, %d) read %q, %v; want %q", tc.offset, tc.length, got, err, tc.want)
		}
		if r.Size() != int64(len(content)) || r.ContentType() != "text/plain" || r.ModTime().IsZero() {
			t.Errorf("NewRangeReader(%d, %d): size %d, type %q, modtime %v", tc.offset, tc.length, r.Size(), r.ContentType(), r.ModTime())
		}
	}
	// An offset at or past the end is not satisfiable (GCS answers 416).
	if _, err := b.NewRangeReader(ctx, "k", 26, 1, nil); gcerrors.Code(err) != gcerrors.InvalidArgument {
		t.Errorf("offset at the end: err = %v (code %v), want InvalidArgument", err, gcerrors.Code(err))
	}
	if _, err := b.NewRangeReader(ctx, "k", -1, 1, nil); err == nil {
		t.Error("negative offset: no error")
	}
	// A server that ignores Range (as GCS does when it decompresses a
	// gzip object) still gives the bytes asked for.
	h2, b2 := emulated(t, "")
	h2.fake.Put("bkt", "k", content, "text/plain")
	h2.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		r.Header.Del("Range")
		return false
	})
	r, err := b2.NewRangeReader(ctx, "k", 3, 4, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	r.Close()
	if string(got) != "defg" || err != nil || r.Size() != int64(len(content)) {
		t.Errorf("range ignored by the server: read %q (size %d), %v", got, r.Size(), err)
	}
}

func TestNotFound(t *testing.T) {
	_, b := emulated(t, "")
	ctx := context.Background()
	_, err := b.NewReader(ctx, "nope", nil)
	if gcerrors.Code(err) != gcerrors.NotFound {
		t.Errorf("NewReader: err = %v, want NotFound", err)
	}
	var ge *googleapi.Error
	if !b.ErrorAs(err, &ge) || ge.Code != http.StatusNotFound {
		t.Errorf("ErrorAs(*googleapi.Error) = %v", ge)
	}
	if _, err := b.Attributes(ctx, "nope"); gcerrors.Code(err) != gcerrors.NotFound {
		t.Errorf("Attributes: err = %v, want NotFound", err)
	}
	if err := b.Delete(ctx, "nope"); gcerrors.Code(err) != gcerrors.NotFound {
		t.Errorf("Delete: err = %v, want NotFound", err)
	}
	if err := b.Copy(ctx, "dst", "nope", nil); gcerrors.Code(err) != gcerrors.NotFound {
		t.Errorf("Copy: err = %v, want NotFound", err)
	}
	if ok, err := b.Exists(ctx, "nope"); ok || err != nil {
		t.Errorf("Exists = %v, %v", ok, err)
	}
	// A bucket that does not exist is NotFound too.
	nb, err := blob.OpenBucket(ctx, "gs://no-such-bucket")
	if err != nil {
		t.Fatal(err)
	}
	defer nb.Close()
	if _, err := nb.NewReader(ctx, "k", nil); gcerrors.Code(err) != gcerrors.NotFound {
		t.Errorf("missing bucket: err = %v, want NotFound", err)
	}
}

func TestErrorCodes(t *testing.T) {
	h, b := emulated(t, "")
	h.fake.Put("bkt", "k", []byte("x"), "")
	ctx := context.Background()
	for status, want := range map[int]gcerrors.ErrorCode{
		http.StatusUnauthorized:       gcerrors.PermissionDenied,
		http.StatusForbidden:          gcerrors.PermissionDenied,
		http.StatusPreconditionFailed: gcerrors.FailedPrecondition,
		http.StatusTooManyRequests:    gcerrors.ResourceExhausted,
		http.StatusBadRequest:         gcerrors.InvalidArgument,
		http.StatusServiceUnavailable: gcerrors.Internal,
		http.StatusTeapot:             gcerrors.Unknown,
	} {
		h.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(status)
			fmt.Fprintf(w, `{"error":{"code":%d,"message":"injected","errors":[{"domain":"global","reason":"x","message":"injected"}]}}`, status)
			return true
		})
		_, err := b.NewReader(ctx, "k", nil)
		if got := gcerrors.Code(err); got != want {
			t.Errorf("status %d: NewReader code %v (%v), want %v", status, got, err, want)
		}
		_, err = b.Attributes(ctx, "k")
		if got := gcerrors.Code(err); got != want {
			t.Errorf("status %d: Attributes code %v (%v), want %v", status, got, err, want)
		}
		err = b.WriteAll(ctx, "k2", []byte("y"), nil)
		if got := gcerrors.Code(err); got != want {
			t.Errorf("status %d: WriteAll code %v (%v), want %v", status, got, err, want)
		}
	}
}

func TestList(t *testing.T) {
	h, b := emulated(t, "")
	ctx := context.Background()
	keys := []string{"a", "b/1", "b/2", "b/c/3", "b/c/4", "b/d/5", "c", "d/6"}
	for _, k := range keys {
		h.fake.Put("bkt", k, []byte(k), "text/plain")
	}
	list := func(opts *blob.ListOptions) []string {
		t.Helper()
		var got []string
		it := b.List(opts)
		for {
			o, err := it.Next(ctx)
			if err == io.EOF {
				return got
			}
			if err != nil {
				t.Fatal(err)
			}
			if o.IsDir {
				got = append(got, o.Key+"(dir)")
			} else {
				if o.Size != int64(len(o.Key)) || o.ModTime.IsZero() || len(o.MD5) != md5.Size {
					t.Errorf("%s: size %d, modtime %v, md5 %x", o.Key, o.Size, o.ModTime, o.MD5)
				}
				got = append(got, o.Key)
			}
		}
	}
	for _, tc := range []struct {
		opts blob.ListOptions
		want string
	}{
		{blob.ListOptions{}, "a b/1 b/2 b/c/3 b/c/4 b/d/5 c d/6"},
		{blob.ListOptions{Delimiter: "/"}, "a b/(dir) c d/(dir)"},
		{blob.ListOptions{Prefix: "b/", Delimiter: "/"}, "b/1 b/2 b/c/(dir) b/d/(dir)"},
		{blob.ListOptions{Prefix: "b/c"}, "b/c/3 b/c/4"},
		{blob.ListOptions{Prefix: "zzz"}, ""},
	} {
		if got := strings.Join(list(&tc.opts), " "); got != tc.want {
			t.Errorf("List(%+v) = %q, want %q", tc.opts, got, tc.want)
		}
	}

	// Pages: every page at most pageSize, in order, until no token.
	for _, tc := range []struct {
		size  int
		opts  blob.ListOptions
		pages string
	}{
		{3, blob.ListOptions{}, "a b/1 b/2|b/c/3 b/c/4 b/d/5|c d/6"},
		{1, blob.ListOptions{Delimiter: "/"}, "a|b/(dir)|c|d/(dir)"},
		{2, blob.ListOptions{Delimiter: "/"}, "a b/(dir)|c d/(dir)"},
		{4, blob.ListOptions{Delimiter: "/"}, "a b/(dir) c d/(dir)"},
		{1, blob.ListOptions{Prefix: "b/", Delimiter: "/"}, "b/1|b/2|b/c/(dir)|b/d/(dir)"},
	} {
		var pages []string
		token := blob.FirstPageToken
		for len(token) > 0 {
			objs, next, err := b.ListPage(ctx, token, tc.size, &tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			var page []string
			for _, o := range objs {
				if o.IsDir {
					page = append(page, o.Key+"(dir)")
				} else {
					page = append(page, o.Key)
				}
			}
			pages = append(pages, strings.Join(page, " "))
			token = next
			if len(pages) > 20 {
				t.Fatal("no end to the pages")
			}
		}
		if got := strings.Join(pages, "|"); got != tc.pages {
			t.Errorf("ListPage(size %d, %+v) = %q, want %q", tc.size, tc.opts, got, tc.pages)
		}
	}
}

func TestOverwriteAndDelete(t *testing.T) {
	h, b := emulated(t, "")
	ctx := context.Background()
	if err := b.WriteAll(ctx, "k", []byte("one"), nil); err != nil {
		t.Fatal(err)
	}
	gen1 := h.fake.Object("bkt", "k").Generation
	if err := b.Upload(ctx, "k", strings.NewReader("two"), &blob.WriterOptions{ContentType: "text/plain"}); err != nil {
		t.Fatal(err)
	}
	if got, err := b.ReadAll(ctx, "k"); string(got) != "two" || err != nil {
		t.Fatalf("after overwrite: %q, %v", got, err)
	}
	if gen2 := h.fake.Object("bkt", "k").Generation; gen2 <= gen1 {
		t.Errorf("generation %d after %d", gen2, gen1)
	}
	// IfNotExist refuses to replace it.
	err := b.WriteAll(ctx, "k", []byte("three"), &blob.WriterOptions{IfNotExist: true})
	if gcerrors.Code(err) != gcerrors.FailedPrecondition {
		t.Errorf("IfNotExist over an object: err = %v, want FailedPrecondition", err)
	}
	if err := b.Delete(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if _, err := b.ReadAll(ctx, "k"); gcerrors.Code(err) != gcerrors.NotFound {
		t.Errorf("after delete: err = %v, want NotFound", err)
	}
	if err := b.Delete(ctx, "k"); gcerrors.Code(err) != gcerrors.NotFound {
		t.Errorf("second delete: err = %v, want NotFound", err)
	}
}

func TestCopy(t *testing.T) {
	h, b := emulated(t, "")
	h.fake.RewriteChunk = 10 // several rewrite calls
	ctx := context.Background()
	data := bytes.Repeat([]byte("0123456789"), 5)
	if err := b.WriteAll(ctx, "src", data, &blob.WriterOptions{ContentType: "application/zip"}); err != nil {
		t.Fatal(err)
	}
	if err := b.Copy(ctx, "dst", "src", nil); err != nil {
		t.Fatal(err)
	}
	got, err := b.ReadAll(ctx, "dst")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("copy = %q, %v", got, err)
	}
	if o := h.fake.Object("bkt", "dst"); o.ContentType != "application/zip" {
		t.Errorf("copy's content type %q", o.ContentType)
	}
	n := 0
	for _, r := range h.requests() {
		if strings.Contains(r, "/rewriteTo/") {
			n++
		}
	}
	if n != 5 {
		t.Errorf("%d rewrite calls, want 5", n)
	}
}

// A write whose ctx ends before Close leaves nothing, whether it was
// still buffered, or was sending chunks of a resumable upload, or was
// waiting on the server; an object that was there stays as it was.
func TestCanceledWrite(t *testing.T) {
	for _, tc := range []struct {
		name   string
		opts   blob.WriterOptions
		size   int
		exists bool
	}{
		{"buffered", blob.WriterOptions{}, 100, false},
		{"typed", blob.WriterOptions{ContentType: "text/plain"}, 100, false},
		{"exists", blob.WriterOptions{ContentType: "text/plain"}, 100, true},
		{"resumable", blob.WriterOptions{ContentType: "application/zip", BufferSize: 256 << 10}, 700 << 10, false},
		{"unbuffered", blob.WriterOptions{ContentType: "application/zip", BufferSize: -1}, 700 << 10, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h, b := emulated(t, "")
			if tc.exists {
				h.fake.Put("bkt", "k", []byte("old"), "text/plain")
			}
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			w, err := b.NewWriter(ctx, "k", &tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			// Unbuffered, the one request is under way, its body
			// streaming to the server as it is written.
			if _, err := w.Write(bytes.Repeat([]byte("z"), tc.size)); err != nil {
				t.Fatal(err)
			}
			if got := h.fake.Object("bkt", "k"); got != nil && !tc.exists {
				t.Fatalf("object there before Close: %d bytes", len(got.Data))
			}
			cancel()
			if err := w.Close(); !errors.Is(err, context.Canceled) {
				t.Errorf("Close = %v, want context.Canceled", err)
			}
			got := h.fake.Object("bkt", "k")
			switch {
			case tc.exists && (got == nil || string(got.Data) != "old"):
				t.Errorf("the object that was there changed: %+v", got)
			case !tc.exists && got != nil:
				t.Errorf("a canceled write left %d bytes", len(got.Data))
			}
			if tc.opts.BufferSize != 0 && !contains(h.requests(), "POST /upload/storage/v1/b/bkt/o resumable") {
				t.Errorf("requests = %q, want a resumable upload", h.requests())
			}
		})
	}
}

// The driver itself keeps a write canceled before Close from completing:
// it never lets the upload see the end of the data, so even a transport
// that ignored the ctx could not finish the object.
func TestCanceledWriteDeafTransport(t *testing.T) {
	for _, tc := range []struct {
		name string
		opts blob.WriterOptions
		size int
	}{
		{"multipart", blob.WriterOptions{ContentType: "text/plain"}, 100},
		{"resumable", blob.WriterOptions{ContentType: "application/zip", BufferSize: 256 << 10}, 700 << 10},
		// A streamed multipart body would get its closing boundary
		// even though the data failed, and be stored (see bufferSize).
		{"unbuffered", blob.WriterOptions{ContentType: "application/zip", BufferSize: -1}, 700 << 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			h := newHarness(t)
			t.Setenv("STORAGE_EMULATOR_HOST", "")
			deaf := &http.Client{Transport: deafTransport{}}
			b, err := gcs.OpenBucket(context.Background(), "bkt", &gcs.Options{ClientOptions: []option.ClientOption{
				option.WithEndpoint(h.srv.URL + "/storage/v1/"), option.WithHTTPClient(deaf),
			}})
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			ctx, cancel := context.WithCancel(context.Background())
			w, err := b.NewWriter(ctx, "k", &tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := w.Write(bytes.Repeat([]byte("z"), tc.size)); err != nil {
				t.Fatal(err)
			}
			cancel()
			if err := w.Close(); !errors.Is(err, context.Canceled) {
				t.Errorf("Close = %v, want context.Canceled", err)
			}
			if got := h.fake.Object("bkt", "k"); got != nil {
				t.Errorf("a canceled write left %d bytes", len(got.Data))
			}
		})
	}
}

// deafTransport sends requests without their ctx.
type deafTransport struct{}

func (deafTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	return http.DefaultTransport.RoundTrip(r.WithContext(context.Background()))
}

// A canceled ctx ends an upload the server is holding up, and it does
// not land: Upload (the fleet cache's path) and Close both return.
func TestCanceledUploadInFlight(t *testing.T) {
	h, b := emulated(t, "")
	arrived := make(chan struct{}, 1)
	h.setIntercept(func(w http.ResponseWriter, r *http.Request) bool {
		if !strings.HasPrefix(r.URL.Path, "/upload/") {
			return false
		}
		io.Copy(io.Discard, r.Body)
		arrived <- struct{}{}
		<-r.Context().Done() // never answers
		return true
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- b.Upload(ctx, "k", bytes.NewReader([]byte("data")), &blob.WriterOptions{ContentType: "text/plain"})
	}()
	<-arrived
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Upload = %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Upload did not return after cancel")
	}
	if h.fake.Object("bkt", "k") != nil {
		t.Error("the object landed")
	}
}

func TestMD5(t *testing.T) {
	h, b := emulated(t, "")
	ctx := context.Background()
	sum := md5.Sum([]byte("hello"))
	// The portable type sees the mismatch and aborts the driver's write.
	err := b.WriteAll(ctx, "k", []byte("jello"), &blob.WriterOptions{ContentMD5: sum[:]})
	if gcerrors.Code(err) != gcerrors.FailedPrecondition {
		t.Errorf("MD5 mismatch: err = %v, want FailedPrecondition", err)
	}
	// GCS checks the md5Hash the driver sends too.
	bad := md5.Sum([]byte("other"))
	err = b.WriteAll(ctx, "k", []byte("hello"), &blob.WriterOptions{
		BeforeWrite: func(as func(any) bool) error {
			var obj *storage.Object
			if !as(&obj) {
				return errors.New("no **storage.Object")
			}
			obj.Md5Hash = fmt.Sprintf("%x", bad) // not even base64
			return nil
		},
	})
	if gcerrors.Code(err) != gcerrors.InvalidArgument {
		t.Errorf("server MD5 mismatch: err = %v, want InvalidArgument", err)
	}
	if h.fake.Object("bkt", "k") != nil {
		t.Error("an object with a bad MD5 landed")
	}
	if err := b.WriteAll(ctx, "k", []byte("hello"), &blob.WriterOptions{ContentMD5: sum[:]}); err != nil {
		t.Errorf("matching MD5: %v", err)
	}
}

// An object larger than the buffer goes up in chunks, Write by Write or
// through Upload, and only the last makes the object.
func TestResumableUpload(t *testing.T) {
	h, b := emulated(t, "")
	ctx := context.Background()
	data := make([]byte, 600<<10+123)
	for i := range data {
		data[i] = byte(i * 7)
	}
	opts := &blob.WriterOptions{ContentType: "application/zip", BufferSize: 256 << 10}
	w, err := b.NewWriter(ctx, "big", opts)
	if err != nil {
		t.Fatal(err)
	}
	for p := data; len(p) > 0; {
		n := min(len(p), 100<<10)
		if _, err := w.Write(p[:n]); err != nil {
			t.Fatal(err)
		}
		p = p[n:]
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if got, err := b.ReadAll(ctx, "big"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, %v", len(got), err)
	}
	if err := b.Upload(ctx, "big2", bytes.NewReader(data), opts); err != nil {
		t.Fatal(err)
	}
	if got, err := b.ReadAll(ctx, "big2"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, %v", len(got), err)
	}
	chunks := 0
	for _, r := range h.requests() {
		if r == "POST /upload/storage/v1/b/bkt/o resumable" {
			chunks++
		}
	}
	if chunks != 2*(1+3) { // 2 uploads: the session, then 3 chunks
		t.Errorf("%d resumable requests, want 8: %q", chunks, h.requests())
	}
	if n := h.fake.Sessions(); n != 0 {
		t.Errorf("%d upload sessions left open", n)
	}
}

// A file of known size goes up in one request even with the default
// 16 MiB buffer (sized to the file), and so does a bytes.Reader.
func TestUploadFile(t *testing.T) {
	h, b := emulated(t, "")
	ctx := context.Background()
	f := filepath.Join(t.TempDir(), "z")
	data := bytes.Repeat([]byte("zip"), 100<<10)
	os.WriteFile(f, data, 0o666)
	fh, err := os.Open(f)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if err := b.Upload(ctx, "m/@v/v1.0.0.zip", fh, &blob.WriterOptions{ContentType: "application/zip"}); err != nil {
		t.Fatal(err)
	}
	if got, err := b.ReadAll(ctx, "m/@v/v1.0.0.zip"); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back %d bytes, %v", len(got), err)
	}
	if r := h.requests(); !contains(r, "POST /upload/storage/v1/b/bkt/o multipart") || contains(r, "POST /upload/storage/v1/b/bkt/o resumable") {
		t.Errorf("requests = %q, want one multipart upload", r)
	}
}

func TestURLParameters(t *testing.T) {
	h := newHarness(t)
	t.Setenv("STORAGE_EMULATOR_HOST", "http://"+h.srv.Listener.Addr().String())
	ctx := context.Background()
	for _, u := range []string{
		"gs://bkt",
		"gs://bkt/",
		"gs://bkt?anonymous=true",
		"gs://bkt?anonymous=false",
		"gs://bkt?access_id=-",
		"gs://bkt?grpc=false&zonal=false",
		"gs://bkt?universe_domain=googleapis.com",
		"gs://bkt?prefix=cache/",
	} {
		b, err := blob.OpenBucket(ctx, u)
		if err != nil {
			t.Errorf("%s: %v", u, err)
			continue
		}
		if err := b.WriteAll(ctx, "k", []byte("x"), nil); err != nil {
			t.Errorf("%s: write: %v", u, err)
		}
		b.Close()
	}
	if h.fake.Object("bkt", "cache/k") == nil {
		t.Error("?prefix=cache/ did not put k under cache/")
	}
	for u, want := range map[string]string{
		"gs://bkt?region=us":           `invalid query parameter "region"`,
		"gs://bkt?anonymous=perhaps":   `invalid value "perhaps" for query parameter "anonymous"`,
		"gs://bkt?access_id=me":        `"access_id" is for signed URLs`,
		"gs://bkt?private_key_path=/k": `"private_key_path" is for signed URLs`,
		"gs://bkt?grpc=true":           `speaks only the JSON API`,
		"gs://bkt?zonal=true":          `speaks only the JSON API`,
		"gs://bkt/sub/dir":             `use ?prefix=sub/dir/`,
		"gs://":                        `bucket name is required`,
	} {
		_, err := blob.OpenBucket(ctx, u)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want it to say %s", u, err, want)
		}
	}
}

// The endpoint an option sets, without the emulator: the way tests reach
// the credentialed paths.
func opener(h *harness) *blob.URLMux {
	mux := new(blob.URLMux)
	mux.RegisterBucket(gcs.Scheme, gcs.URLOpener{Options: gcs.Options{
		ClientOptions: []option.ClientOption{option.WithEndpoint(h.srv.URL + "/storage/v1/")},
	}})
	return mux
}

// noADC leaves no Application Default Credentials to find.
func noADC(t *testing.T) {
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "missing.json"))
	t.Setenv("HOME", t.TempDir())
}

func TestAnonymous(t *testing.T) {
	noADC(t)
	h := newHarness(t)
	h.fake.Put("bkt", "k", []byte("public"), "text/plain")
	ctx := context.Background()
	for _, q := range []string{"?anonymous=true", "?access_id=-"} {
		b, err := opener(h).OpenBucket(ctx, "gs://bkt"+q)
		if err != nil {
			t.Fatal(err)
		}
		got, err := b.ReadAll(ctx, "k")
		b.Close()
		if string(got) != "public" || err != nil {
			t.Errorf("%s: read %q, %v", q, got, err)
		}
	}
	for _, a := range h.authHeaders() {
		if a != "" {
			t.Errorf("anonymous request sent Authorization: %s", a)
		}
	}
}

// Credentials that cannot be found do not fail the open (nor the run):
// each call says what is missing, as PermissionDenied.
func TestNoCredentials(t *testing.T) {
	noADC(t)
	h := newHarness(t)
	ctx := context.Background()
	b, err := opener(h).OpenBucket(ctx, "gs://bkt")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	_, err = b.ReadAll(ctx, "k")
	if gcerrors.Code(err) != gcerrors.PermissionDenied || !strings.Contains(err.Error(), "GOOGLE_APPLICATION_CREDENTIALS") {
		t.Errorf("read without credentials: err = %v (code %v)", err, gcerrors.Code(err))
	}
	if err := b.WriteAll(ctx, "k", []byte("x"), nil); gcerrors.Code(err) != gcerrors.PermissionDenied {
		t.Errorf("write without credentials: err = %v", err)
	}
	if _, _, err := b.ListPage(ctx, blob.FirstPageToken, 10, nil); gcerrors.Code(err) != gcerrors.PermissionDenied {
		t.Errorf("list without credentials: err = %v", err)
	}
	if len(h.requests()) != 0 {
		t.Errorf("requests sent without credentials: %q", h.requests())
	}
}

// Workload identity federation as google-github-actions/auth sets it up:
// GOOGLE_APPLICATION_CREDENTIALS names an external_account file whose
// subject token is GitHub's OIDC token, fetched from a URL, and exchanged
// at the STS endpoint for the access token GCS takes.
func TestExternalAccountCredentials(t *testing.T) {
	noADC(t)
	h := newHarness(t)
	h.fake.Token = "sts-access-token"
	var mu sync.Mutex
	var oidcCalls, stsCalls int
	idp := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		switch r.URL.Path {
		case "/oidc": // ACTIONS_ID_TOKEN_REQUEST_URL
			oidcCalls++
			if r.Header.Get("Authorization") != "Bearer actions-request-token" || r.URL.Query().Get("audience") == "" {
				http.Error(w, "bad OIDC request", http.StatusUnauthorized)
				return
			}
			json.NewEncoder(w).Encode(map[string]string{"value": "github-oidc-jwt"})
		case "/v1/token": // sts.googleapis.com
			stsCalls++
			r.ParseForm()
			if r.Form.Get("grant_type") != "urn:ietf:params:oauth:grant-type:token-exchange" ||
				r.Form.Get("subject_token") != "github-oidc-jwt" ||
				r.Form.Get("subject_token_type") != "urn:ietf:params:oauth:token-type:jwt" ||
				!strings.Contains(r.Form.Get("audience"), "workloadIdentityPools/github") {
				http.Error(w, `{"error":"invalid_grant"}`, http.StatusBadRequest)
				return
			}
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{
				"access_token":      "sts-access-token",
				"issued_token_type": "urn:ietf:params:oauth:token-type:access_token",
				"token_type":        "Bearer",
				"expires_in":        3600,
			})
		default:
			http.NotFound(w, r)
		}
	}))
	defer idp.Close()
	creds := map[string]any{
		"type":               "external_account",
		"audience":           "//iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/github/providers/gh",
		"subject_token_type": "urn:ietf:params:oauth:token-type:jwt",
		"token_url":          idp.URL + "/v1/token",
		"credential_source": map[string]any{
			"url":     idp.URL + "/oidc?audience=https://iam.googleapis.com/projects/123/locations/global/workloadIdentityPools/github/providers/gh",
			"headers": map[string]string{"Authorization": "Bearer actions-request-token"},
			"format":  map[string]string{"type": "json", "subject_token_field_name": "value"},
		},
	}
	f := filepath.Join(t.TempDir(), "gha-creds.json")
	js, _ := json.Marshal(creds)
	os.WriteFile(f, js, 0o600)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", f)

	ctx := context.Background()
	b, err := opener(h).OpenBucket(ctx, "gs://bkt")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.WriteAll(ctx, "k", []byte("federated"), nil); err != nil {
		t.Fatal(err)
	}
	if got, err := b.ReadAll(ctx, "k"); string(got) != "federated" || err != nil {
		t.Fatalf("read %q, %v", got, err)
	}
	for _, a := range h.authHeaders() {
		if a != "Bearer sts-access-token" {
			t.Errorf("request with Authorization %q", a)
		}
	}
	mu.Lock()
	defer mu.Unlock()
	if oidcCalls != 1 || stsCalls != 1 {
		t.Errorf("%d OIDC and %d STS calls, want 1 each (the token is reused)", oidcCalls, stsCalls)
	}
}

// On Google Cloud the token comes from the metadata server
// (GCE_METADATA_HOST points the client at a fake one).
func TestMetadataServerCredentials(t *testing.T) {
	noADC(t)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", "")
	h := newHarness(t)
	h.fake.Token = "metadata-token"
	md := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Metadata-Flavor") != "Google" {
			http.Error(w, "missing Metadata-Flavor", http.StatusForbidden)
			return
		}
		w.Header().Set("Metadata-Flavor", "Google")
		switch r.URL.Path {
		case "/computeMetadata/v1/instance/service-accounts/default/token":
			w.Header().Set("Content-Type", "application/json")
			json.NewEncoder(w).Encode(map[string]any{"access_token": "metadata-token", "expires_in": 3599, "token_type": "Bearer"})
		case "/computeMetadata/v1/universe/universe-domain":
			io.WriteString(w, "googleapis.com")
		case "/computeMetadata/v1/project/project-id":
			io.WriteString(w, "proj")
		default:
			http.NotFound(w, r)
		}
	}))
	defer md.Close()
	t.Setenv("GCE_METADATA_HOST", md.Listener.Addr().String())
	ctx := context.Background()
	b, err := opener(h).OpenBucket(ctx, "gs://bkt")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.WriteAll(ctx, "k", []byte("on gce"), nil); err != nil {
		t.Fatal(err)
	}
	if got, err := b.ReadAll(ctx, "k"); string(got) != "on gce" || err != nil {
		t.Fatalf("read %q, %v", got, err)
	}
}

func TestAsAndHooks(t *testing.T) {
	h, b := emulated(t, "")
	h.fake.Put("bkt", "d/k", []byte("x"), "text/plain")
	ctx := context.Background()
	var svc *storage.Service
	if !b.As(&svc) || svc == nil {
		t.Error("Bucket.As(**storage.Service) failed")
	}
	if b.As(nil) {
		t.Error("Bucket.As(nil) succeeded")
	}
	r, err := b.NewReader(ctx, "d/k", &blob.ReaderOptions{BeforeRead: func(as func(any) bool) error {
		var c *storage.ObjectsGetCall
		if !as(&c) {
			return errors.New("BeforeRead: no **storage.ObjectsGetCall")
		}
		c.IfGenerationNotMatch(1)
		return nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	var res *http.Response
	if !r.As(&res) || res.Header.Get("X-Goog-Generation") == "" {
		t.Error("Reader.As(**http.Response) failed")
	}
	r.Close()
	it := b.List(&blob.ListOptions{Prefix: "d/", BeforeList: func(as func(any) bool) error {
		var c *storage.ObjectsListCall
		if !as(&c) {
			return errors.New("BeforeList: no **storage.ObjectsListCall")
		}
		return nil
	}})
	o, err := it.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var obj storage.Object
	if !o.As(&obj) || obj.Name != "d/k" {
		t.Errorf("ListObject.As(*storage.Object) = %+v", obj)
	}
	if err := b.Copy(ctx, "d/k2", "d/k", &blob.CopyOptions{BeforeCopy: func(as func(any) bool) error {
		var c *storage.ObjectsRewriteCall
		if !as(&c) {
			return errors.New("BeforeCopy: no **storage.ObjectsRewriteCall")
		}
		return nil
	}}); err != nil {
		t.Error(err)
	}
	// A generation precondition set in BeforeDelete holds.
	err = b.DeleteWithOptions(ctx, "d/k", &blob.DeleteOptions{BeforeDelete: func(as func(any) bool) error {
		var c *storage.ObjectsDeleteCall
		if !as(&c) {
			return errors.New("BeforeDelete: no **storage.ObjectsDeleteCall")
		}
		c.IfGenerationMatch(1)
		return nil
	}})
	if gcerrors.Code(err) != gcerrors.FailedPrecondition {
		t.Errorf("Delete with a failing precondition: err = %v", err)
	}
	if _, err := b.SignedURL(ctx, "d/k", nil); gcerrors.Code(err) != gcerrors.Unimplemented {
		t.Errorf("SignedURL: err = %v, want Unimplemented", err)
	}
}

func TestBadKeys(t *testing.T) {
	_, b := emulated(t, "")
	ctx := context.Background()
	for _, k := range []string{"a\nb", "a\rb"} {
		if err := b.WriteAll(ctx, k, []byte("x"), nil); gcerrors.Code(err) != gcerrors.InvalidArgument {
			t.Errorf("write %q: err = %v, want InvalidArgument", k, err)
		}
		if _, err := b.ReadAll(ctx, k); gcerrors.Code(err) != gcerrors.InvalidArgument {
			t.Errorf("read %q: err = %v, want InvalidArgument", k, err)
		}
	}
}
