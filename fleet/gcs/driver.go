package gcs

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"

	"gocloud.dev/blob/driver"
	"gocloud.dev/gcerrors"
	"google.golang.org/api/googleapi"
	storage "google.golang.org/api/storage/v1"
)

// defaultPageSize is a list page's size when the caller sets none (the
// API's maximum and default).
const defaultPageSize = 1000

// bucket implements driver.Bucket.
type bucket struct {
	name string
	svc  *storage.Service
	err  error // set (and svc nil) when the bucket has no credentials
}

var _ driver.Bucket = (*bucket)(nil)

// driverError is an error the driver makes itself, with its code.
type driverError struct {
	code gcerrors.ErrorCode
	msg  string
}

func (e *driverError) Error() string { return "gcs: " + e.msg }

// check returns the error a call on key fails with before any request.
func (b *bucket) check(key string) error {
	if b.err != nil {
		return b.err
	}
	if key == "" {
		return &driverError{gcerrors.InvalidArgument, "an object name must not be empty"}
	}
	if strings.ContainsAny(key, "\r\n") {
		return &driverError{gcerrors.InvalidArgument, fmt.Sprintf("object name %q: GCS names cannot hold CR or LF", key)}
	}
	return nil
}

// ErrorCode implements driver.Bucket.
func (b *bucket) ErrorCode(err error) gcerrors.ErrorCode {
	var de *driverError
	var ce *credentialsError
	var ge *googleapi.Error
	switch {
	case errors.As(err, &de):
		return de.code
	case errors.As(err, &ce):
		return gcerrors.PermissionDenied
	case errors.Is(err, context.Canceled):
		return gcerrors.Canceled
	case errors.Is(err, context.DeadlineExceeded):
		return gcerrors.DeadlineExceeded
	case errors.As(err, &ge):
		return httpCode(ge.Code)
	}
	return gcerrors.Unknown
}

// httpCode maps a JSON API error status to a gocloud code.
func httpCode(status int) gcerrors.ErrorCode {
	switch status {
	case http.StatusNotFound:
		return gcerrors.NotFound
	case http.StatusPreconditionFailed, http.StatusNotModified:
		return gcerrors.FailedPrecondition
	case http.StatusUnauthorized, http.StatusForbidden:
		return gcerrors.PermissionDenied
	case http.StatusTooManyRequests:
		return gcerrors.ResourceExhausted
	case http.StatusBadRequest, http.StatusRequestedRangeNotSatisfiable:
		return gcerrors.InvalidArgument
	case http.StatusConflict:
		return gcerrors.AlreadyExists
	case http.StatusNotImplemented:
		return gcerrors.Unimplemented
	case http.StatusRequestTimeout, http.StatusGatewayTimeout:
		return gcerrors.DeadlineExceeded
	case http.StatusInternalServerError, http.StatusBadGateway, http.StatusServiceUnavailable:
		return gcerrors.Internal
	}
	return gcerrors.Unknown
}

// As implements driver.Bucket.
func (b *bucket) As(i any) bool {
	p, ok := i.(**storage.Service)
	if !ok || b.svc == nil {
		return false
	}
	*p = b.svc
	return true
}

// ErrorAs implements driver.Bucket.
func (b *bucket) ErrorAs(err error, i any) bool {
	if p, ok := i.(**googleapi.Error); ok {
		return errors.As(err, p)
	}
	return false
}

// Close implements driver.Bucket. The service holds no resource beyond
// idle connections.
func (b *bucket) Close() error { return nil }

// SignedURL implements driver.Bucket: not supported.
func (b *bucket) SignedURL(context.Context, string, *driver.SignedURLOptions) (string, error) {
	return "", &driverError{gcerrors.Unimplemented, "SignedURL is not supported by gomodfetch's gs:// driver (it signs nothing; gocloud.dev/blob/gcsblob does)"}
}

// Attributes implements driver.Bucket.
func (b *bucket) Attributes(ctx context.Context, key string) (*driver.Attributes, error) {
	if err := b.check(key); err != nil {
		return nil, err
	}
	obj, err := b.svc.Objects.Get(b.name, key).Context(ctx).Do()
	if err != nil {
		return nil, err
	}
	md5, _ := base64.StdEncoding.DecodeString(obj.Md5Hash)
	return &driver.Attributes{
		CacheControl:       obj.CacheControl,
		ContentDisposition: obj.ContentDisposition,
		ContentEncoding:    obj.ContentEncoding,
		ContentLanguage:    obj.ContentLanguage,
		ContentType:        obj.ContentType,
		Metadata:           obj.Metadata,
		CreateTime:         parseTime(obj.TimeCreated),
		ModTime:            parseTime(obj.Updated),
		Size:               int64(obj.Size),
		MD5:                md5,
		ETag:               quoteETag(obj.Etag),
		AsFunc:             objectAs(obj),
	}, nil
}

// before runs a Before* hook of gocloud's options (nil: none), whose As
// exposes the request about to be sent.
func before[T any](hook func(asFunc func(any) bool) error, call *T) error {
	if hook == nil {
		return nil
	}
	return hook(func(i any) bool {
		p, ok := i.(**T)
		if ok {
			*p = call
		}
		return ok
	})
}

// objectAs exposes a copy of obj as *storage.Object.
func objectAs(obj *storage.Object) func(any) bool {
	return func(i any) bool {
		p, ok := i.(*storage.Object)
		if ok {
			*p = *obj
		}
		return ok
	}
}

// parseTime parses the API's RFC 3339 times; a missing or bad one is zero.
func parseTime(s string) time.Time {
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}

// quoteETag makes the API's bare etag an HTTP entity tag, as gcsblob does.
func quoteETag(e string) string {
	if e == "" || strings.HasPrefix(e, `"`) || strings.HasPrefix(e, `W/"`) {
		return e
	}
	return strconv.Quote(e)
}

// ListPaged implements driver.Bucket.
func (b *bucket) ListPaged(ctx context.Context, opts *driver.ListOptions) (*driver.ListPage, error) {
	if b.err != nil {
		return nil, b.err
	}
	pageSize := opts.PageSize
	if pageSize <= 0 || pageSize > defaultPageSize {
		pageSize = defaultPageSize
	}
	call := b.svc.Objects.List(b.name).MaxResults(int64(pageSize))
	if opts.Prefix != "" {
		call.Prefix(opts.Prefix)
	}
	if opts.Delimiter != "" {
		call.Delimiter(opts.Delimiter)
	}
	if len(opts.PageToken) > 0 {
		call.PageToken(string(opts.PageToken))
	}
	if err := before(opts.BeforeList, call); err != nil {
		return nil, err
	}
	res, err := call.Context(ctx).Do()
	if err != nil {
		return nil, err
	}
	page := &driver.ListPage{NextPageToken: []byte(res.NextPageToken)}
	for _, obj := range res.Items {
		md5, _ := base64.StdEncoding.DecodeString(obj.Md5Hash)
		page.Objects = append(page.Objects, &driver.ListObject{
			Key:     obj.Name,
			ModTime: parseTime(obj.Updated),
			Size:    int64(obj.Size),
			MD5:     md5,
			AsFunc:  objectAs(obj),
		})
	}
	for _, p := range res.Prefixes {
		page.Objects = append(page.Objects, &driver.ListObject{Key: p, IsDir: true})
	}
	// The API returns the "directories" apart from the objects.
	sort.Slice(page.Objects, func(i, j int) bool { return page.Objects[i].Key < page.Objects[j].Key })
	return page, nil
}

// NewRangeReader implements driver.Bucket with one objects.get
// (alt=media) request, whose headers carry the attributes.
func (b *bucket) NewRangeReader(ctx context.Context, key string, offset, length int64, opts *driver.ReaderOptions) (driver.Reader, error) {
	if err := b.check(key); err != nil {
		return nil, err
	}
	call := b.svc.Objects.Get(b.name, key)
	if err := before(opts.BeforeRead, call); err != nil {
		return nil, err
	}
	call.Context(ctx)
	if length == 0 {
		// No bytes wanted: the object's metadata gives the attributes.
		obj, err := call.Do()
		if err != nil {
			return nil, err
		}
		return &reader{
			body: http.NoBody,
			attrs: driver.ReaderAttributes{
				ContentType: contentTypeOr(obj.ContentType),
				ModTime:     parseTime(obj.Updated),
				Size:        int64(obj.Size),
			},
		}, nil
	}
	switch {
	case length > 0:
		call.Header().Set("Range", fmt.Sprintf("bytes=%d-%d", offset, offset+length-1))
	case offset > 0:
		call.Header().Set("Range", fmt.Sprintf("bytes=%d-", offset))
	}
	res, err := call.Download()
	if err != nil {
		return nil, err
	}
	r := &reader{
		body: res.Body,
		res:  res,
		attrs: driver.ReaderAttributes{
			ContentType: contentTypeOr(res.Header.Get("Content-Type")),
		},
	}
	if lm := res.Header.Get("Last-Modified"); lm != "" {
		r.attrs.ModTime, _ = http.ParseTime(lm)
	}
	if res.StatusCode == http.StatusPartialContent {
		total, err := contentRangeTotal(res.Header.Get("Content-Range"))
		if err != nil {
			res.Body.Close()
			return nil, err
		}
		r.attrs.Size = total
	} else {
		r.attrs.Size = storedLength(res)
		if offset > 0 {
			// The whole object came (a server that ignores Range, or
			// GCS transcoding gzip): skip to offset.
			if _, err := io.CopyN(io.Discard, res.Body, offset); err != nil {
				res.Body.Close()
				if err == io.EOF {
					err = &driverError{gcerrors.InvalidArgument, fmt.Sprintf("offset %d is past the end of %q", offset, key)}
				}
				return nil, err
			}
		}
	}
	if length > 0 {
		r.body = struct {
			io.Reader
			io.Closer
		}{io.LimitReader(res.Body, length), res.Body}
	}
	return r, nil
}

// storedLength is the object's size from a whole-object response.
func storedLength(res *http.Response) int64 {
	if !res.Uncompressed && res.ContentLength >= 0 {
		return res.ContentLength
	}
	n, err := strconv.ParseInt(res.Header.Get("X-Goog-Stored-Content-Length"), 10, 64)
	if err != nil {
		return res.ContentLength
	}
	return n
}

// contentRangeTotal is the complete length in "bytes FIRST-LAST/TOTAL".
func contentRangeTotal(cr string) (int64, error) {
	_, total, ok := strings.Cut(strings.TrimPrefix(cr, "bytes "), "/")
	n, err := strconv.ParseInt(total, 10, 64)
	if !ok || err != nil {
		return 0, fmt.Errorf("gcs: invalid Content-Range %q in a partial response", cr)
	}
	return n, nil
}

// contentTypeOr is ct, or the default an object without one is served as
// (a reader's content type must not be empty).
func contentTypeOr(ct string) string {
	if ct == "" {
		return "application/octet-stream"
	}
	return ct
}

// reader implements driver.Reader.
type reader struct {
	body  io.ReadCloser
	res   *http.Response // nil for a length-0 read
	attrs driver.ReaderAttributes
}

func (r *reader) Read(p []byte) (int, error)           { return r.body.Read(p) }
func (r *reader) Close() error                         { return r.body.Close() }
func (r *reader) Attributes() *driver.ReaderAttributes { return &r.attrs }

func (r *reader) As(i any) bool {
	p, ok := i.(**http.Response)
	if !ok || r.res == nil {
		return false
	}
	*p = r.res
	return true
}

// Copy implements driver.Bucket with objects.rewrite, repeated with the
// rewrite token until done (GCS copies a large object over several calls).
func (b *bucket) Copy(ctx context.Context, dstKey, srcKey string, opts *driver.CopyOptions) error {
	if err := b.check(dstKey); err != nil {
		return err
	}
	if err := b.check(srcKey); err != nil {
		return err
	}
	call := b.svc.Objects.Rewrite(b.name, srcKey, b.name, dstKey, &storage.Object{})
	if err := before(opts.BeforeCopy, call); err != nil {
		return err
	}
	call.Context(ctx)
	for {
		res, err := call.Do()
		if err != nil {
			return err
		}
		if res.Done {
			return nil
		}
		if res.RewriteToken == "" {
			return errors.New("gcs: rewrite not done and no rewrite token to go on with")
		}
		call.RewriteToken(res.RewriteToken)
	}
}

// Delete implements driver.Bucket.
func (b *bucket) Delete(ctx context.Context, key string, opts *driver.DeleteOptions) error {
	if err := b.check(key); err != nil {
		return err
	}
	call := b.svc.Objects.Delete(b.name, key)
	if err := before(opts.BeforeDelete, call); err != nil {
		return err
	}
	return call.Context(ctx).Do()
}
