package gcs

import (
	"context"
	"encoding/base64"
	"io"
	"os"
	"sync"

	"gocloud.dev/blob/driver"
	"google.golang.org/api/googleapi"
	storage "google.golang.org/api/storage/v1"
)

// NewTypedWriter implements driver.Bucket with objects.insert: one
// multipart request for an object smaller than the buffer, else a
// resumable upload in buffer-sized chunks. GCS creates the object only when
// the last byte has arrived, so nothing appears before Close, and a write
// whose ctx ends before Close sends no last chunk: nothing appears at all.
func (b *bucket) NewTypedWriter(ctx context.Context, key, contentType string, opts *driver.WriterOptions) (driver.Writer, error) {
	if err := b.check(key); err != nil {
		return nil, err
	}
	obj := &storage.Object{
		Name:               key,
		ContentType:        contentType,
		CacheControl:       opts.CacheControl,
		ContentDisposition: opts.ContentDisposition,
		ContentEncoding:    opts.ContentEncoding,
		ContentLanguage:    opts.ContentLanguage,
		Metadata:           opts.Metadata,
	}
	if len(opts.ContentMD5) > 0 {
		// GCS checks it and refuses an object whose bytes differ.
		obj.Md5Hash = base64.StdEncoding.EncodeToString(opts.ContentMD5)
	}
	call := b.svc.Objects.Insert(b.name, obj)
	if opts.IfNotExist {
		call.IfGenerationMatch(0)
	}
	if opts.BeforeWrite != nil {
		err := opts.BeforeWrite(func(i any) bool {
			switch p := i.(type) {
			case **storage.ObjectsInsertCall:
				*p = call
			case **storage.Object:
				*p = obj
			default:
				return false
			}
			return true
		})
		if err != nil {
			return nil, err
		}
	}
	w := &writer{ctx: ctx, call: call, buffer: bufferSize(opts.BufferSize), done: make(chan struct{})}
	if contentType == "" && opts.DisableContentTypeDetection {
		w.media = append(w.media, googleapi.ContentType(""))
	}
	return w, nil
}

// bufferSize is the upload chunk for WriterOptions.BufferSize: 0 is the
// default (16 MiB). A negative size (gcsblob's "unbuffered": one request
// streamed as it is written) sends the smallest chunks GCS takes, 256 KiB,
// of a resumable upload instead: the client library ends a streamed
// multipart body with its closing boundary even when the data fails, so a
// server reading the body as it arrives could store a write canceled
// half-way. A resumable upload lands only with its last chunk.
func bufferSize(size int) int {
	switch {
	case size == 0:
		return googleapi.DefaultUploadChunkSize
	case size < 0:
		return googleapi.MinUploadChunkSize
	}
	return size
}

// writer implements driver.Writer and driver.Uploader. Its Writes go
// through a pipe to the upload, which runs in a goroutine from the first
// Write; Upload runs it in the caller's.
type writer struct {
	ctx    context.Context
	call   *storage.ObjectsInsertCall
	buffer int
	media  []googleapi.MediaOption

	once sync.Once
	pw   *io.PipeWriter
	done chan struct{} // closed when the upload run by Write has ended
	err  error         // the upload's outcome
	sent bool          // Upload ran
}

var _ driver.Uploader = (*writer)(nil)

func (w *writer) start() {
	w.once.Do(func() {
		pr, pw := io.Pipe()
		w.pw = pw
		go func() {
			defer close(w.done)
			w.err = w.upload(pr, w.buffer)
			// A Write waiting on the pipe learns the upload ended.
			pr.CloseWithError(w.err)
		}()
	})
}

func (w *writer) Write(p []byte) (int, error) {
	w.start()
	n, err := w.pw.Write(p)
	if err == io.ErrClosedPipe {
		// The upload ended early (and without error: a bug); say so.
		err = io.ErrUnexpectedEOF
	}
	return n, err
}

// Upload implements driver.Uploader: the upload reads r itself, and an
// object whose size is known takes a buffer no bigger than it needs.
func (w *writer) Upload(r io.Reader) error {
	w.sent = true
	w.err = w.upload(r, sizedBuffer(w.buffer, r))
	return w.err
}

// Close ends the upload: the object is there once Close returns nil.
func (w *writer) Close() error {
	if w.sent {
		return w.err
	}
	if err := w.ctx.Err(); err != nil {
		// Canceled before Close: the upload must never see the end of
		// the data, or it would complete it.
		if w.pw != nil {
			w.pw.CloseWithError(err)
			<-w.done
		}
		return err
	}
	if w.pw == nil {
		// Nothing was written: an empty object.
		return w.upload(eofReader{}, sizedBuffer(w.buffer, eofReader{}))
	}
	w.pw.Close()
	<-w.done
	if w.err != nil && w.ctx.Err() != nil {
		return w.ctx.Err()
	}
	return w.err
}

func (w *writer) upload(r io.Reader, buffer int) error {
	media := append([]googleapi.MediaOption{googleapi.ChunkSize(buffer)}, w.media...)
	_, err := w.call.Media(r, media...).Context(w.ctx).Do()
	return err
}

// sizedBuffer returns buffer, or less for r of known size: the client
// allocates the whole buffer, and the fleet cache's .info and .mod
// objects are tiny. The size is only a hint; a reader that holds more is
// sent in chunks of what it was given.
func sizedBuffer(buffer int, r io.Reader) int {
	if buffer <= 0 {
		return buffer
	}
	size := int64(-1)
	switch r := r.(type) {
	case interface{ Len() int }: // bytes.Reader, bytes.Buffer, strings.Reader
		size = int64(r.Len())
	case *os.File:
		if fi, err := r.Stat(); err == nil && fi.Mode().IsRegular() {
			size = fi.Size()
		}
	}
	// The upload is one request when the buffer holds all of it and sees
	// its end: one byte more than the size (rounded up to 256 KiB).
	if size >= 0 && size < int64(buffer) {
		return int(size) + 1
	}
	return buffer
}

// eofReader is an empty body.
type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }
func (eofReader) Len() int                 { return 0 }
