// Package fakegcs is an in-memory server for the parts of the Google Cloud
// Storage JSON API that gomodfetch's gs:// driver uses, for tests: object
// get (metadata, or alt=media with Range), multipart and resumable
// uploads, list with prefix, delimiter and page tokens, delete, and
// rewrite. It answers as GCS does: the same paths, status codes, headers
// and JSON field names (https://cloud.google.com/storage/docs/json_api),
// written here by hand rather than with the client's types, so that it
// checks the client instead of agreeing with it.
package fakegcs

import (
	"bytes"
	"crypto/md5"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Server is the fake. Its zero value is not usable; use New.
type Server struct {
	// Token, if set, is the only bearer token accepted
	// (Authorization: Bearer TOKEN); other requests get 401.
	Token string
	// RewriteChunk, if positive, is how many bytes one rewrite call
	// copies, so larger objects take several calls (rewriteToken).
	RewriteChunk int64

	mu       sync.Mutex
	buckets  map[string]map[string]*Object
	sessions map[string]*session
	gen      int64
	nextID   int
}

// Object is a stored object.
type Object struct {
	Name               string
	Data               []byte
	ContentType        string
	ContentEncoding    string
	ContentDisposition string
	ContentLanguage    string
	CacheControl       string
	Metadata           map[string]string
	Generation         int64
	Metageneration     int64
	Created, Updated   time.Time
}

// session is a resumable upload under way.
type session struct {
	bucket string
	meta   objectJSON
	ctype  string // X-Upload-Content-Type
	conds  url.Values
	data   []byte
}

// New returns a server holding the named buckets, empty.
func New(buckets ...string) *Server {
	s := &Server{buckets: map[string]map[string]*Object{}, sessions: map[string]*session{}, gen: time.Now().UnixMicro()}
	for _, b := range buckets {
		s.buckets[b] = map[string]*Object{}
	}
	return s
}

// Object returns a copy of the stored object, or nil.
func (s *Server) Object(bucket, name string) *Object {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.buckets[bucket][name]
	if o == nil {
		return nil
	}
	c := *o
	c.Data = bytes.Clone(o.Data)
	return &c
}

// Names returns the names of the objects in bucket, sorted.
func (s *Server) Names(bucket string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var names []string
	for n := range s.buckets[bucket] {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Put stores an object directly.
func (s *Server) Put(bucket, name string, data []byte, contentType string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.store(bucket, &Object{Name: name, Data: bytes.Clone(data), ContentType: contentType})
}

// Sessions is how many resumable uploads are open (started, not done).
func (s *Server) Sessions() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

// store saves o with a new generation; s.mu is held.
func (s *Server) store(bucket string, o *Object) {
	s.gen++
	now := time.Now().UTC()
	o.Generation, o.Metageneration = s.gen, 1
	o.Created, o.Updated = now, now
	if o.ContentType == "" {
		o.ContentType = "application/octet-stream"
	}
	s.buckets[bucket][o.Name] = o
}

// apiError writes the JSON API's error body.
func apiError(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{
		"error": map[string]any{
			"code":    code,
			"message": msg,
			"errors":  []map[string]string{{"domain": "global", "reason": reason, "message": msg}},
		},
	})
}

func notFound(w http.ResponseWriter, bucket, name string) {
	apiError(w, http.StatusNotFound, "notFound", fmt.Sprintf("No such object: %s/%s", bucket, name))
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json; charset=UTF-8")
	json.NewEncoder(w).Encode(v)
}

// ServeHTTP implements the API under /storage/v1/ and /upload/storage/v1/.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if s.Token != "" && r.Header.Get("Authorization") != "Bearer "+s.Token {
		apiError(w, http.StatusUnauthorized, "required", "Anonymous caller does not have storage.objects.get access.")
		return
	}
	// Object names come %-escaped in one segment ("a%2Fb"): split the
	// escaped path, then unescape each segment.
	var seg []string
	for _, p := range strings.Split(strings.Trim(r.URL.EscapedPath(), "/"), "/") {
		u, err := url.PathUnescape(p)
		if err != nil {
			apiError(w, http.StatusBadRequest, "invalid", "bad path")
			return
		}
		seg = append(seg, u)
	}
	upload := false
	switch {
	case len(seg) >= 3 && seg[0] == "upload" && seg[1] == "storage" && seg[2] == "v1":
		upload, seg = true, seg[3:]
	case len(seg) >= 2 && seg[0] == "storage" && seg[1] == "v1":
		seg = seg[2:]
	default:
		apiError(w, http.StatusNotFound, "notFound", "Not Found")
		return
	}
	if len(seg) < 3 || seg[0] != "b" || seg[2] != "o" {
		apiError(w, http.StatusNotFound, "notFound", "Not Found")
		return
	}
	bucket := seg[1]
	s.mu.Lock()
	_, ok := s.buckets[bucket]
	s.mu.Unlock()
	if !ok {
		apiError(w, http.StatusNotFound, "notFound", "The specified bucket does not exist.")
		return
	}
	q := r.URL.Query()
	switch {
	case upload && len(seg) == 3 && q.Get("upload_id") != "" && (r.Method == http.MethodPut || r.Method == http.MethodPost):
		s.chunk(w, r, q.Get("upload_id"))
	case upload && len(seg) == 3 && r.Method == http.MethodPost:
		s.insert(w, r, bucket)
	case upload:
		apiError(w, http.StatusNotFound, "notFound", "Not Found")
	case len(seg) == 3 && r.Method == http.MethodGet:
		s.list(w, r, bucket)
	case len(seg) == 4 && r.Method == http.MethodGet:
		s.get(w, r, bucket, seg[3])
	case len(seg) == 4 && r.Method == http.MethodDelete:
		s.delete(w, r, bucket, seg[3])
	case len(seg) == 8 && seg[4] == "rewriteTo" && seg[5] == "b" && seg[7] == "o" && r.Method == http.MethodPost:
		apiError(w, http.StatusNotFound, "notFound", "Not Found") // no object after rewriteTo/b/B/o
	case len(seg) == 9 && seg[4] == "rewriteTo" && seg[5] == "b" && seg[7] == "o" && r.Method == http.MethodPost:
		s.rewrite(w, r, bucket, seg[3], seg[6], seg[8])
	default:
		apiError(w, http.StatusNotFound, "notFound", "Not Found")
	}
}

// objectJSON is the Object resource's JSON, as much as the driver reads
// or writes.
type objectJSON struct {
	Kind               string            `json:"kind,omitempty"`
	ID                 string            `json:"id,omitempty"`
	SelfLink           string            `json:"selfLink,omitempty"`
	MediaLink          string            `json:"mediaLink,omitempty"`
	Name               string            `json:"name,omitempty"`
	Bucket             string            `json:"bucket,omitempty"`
	Generation         string            `json:"generation,omitempty"`
	Metageneration     string            `json:"metageneration,omitempty"`
	ContentType        string            `json:"contentType,omitempty"`
	ContentEncoding    string            `json:"contentEncoding,omitempty"`
	ContentDisposition string            `json:"contentDisposition,omitempty"`
	ContentLanguage    string            `json:"contentLanguage,omitempty"`
	CacheControl       string            `json:"cacheControl,omitempty"`
	StorageClass       string            `json:"storageClass,omitempty"`
	Size               string            `json:"size,omitempty"`
	MD5Hash            string            `json:"md5Hash,omitempty"`
	CRC32C             string            `json:"crc32c,omitempty"`
	ETag               string            `json:"etag,omitempty"`
	TimeCreated        string            `json:"timeCreated,omitempty"`
	Updated            string            `json:"updated,omitempty"`
	Metadata           map[string]string `json:"metadata,omitempty"`
}

func md5Of(b []byte) string {
	h := md5.Sum(b)
	return base64.StdEncoding.EncodeToString(h[:])
}

func crc32cOf(b []byte) string {
	var x [4]byte
	binary.BigEndian.PutUint32(x[:], crc32.Checksum(b, crc32.MakeTable(crc32.Castagnoli)))
	return base64.StdEncoding.EncodeToString(x[:])
}

// etag is an opaque, unquoted tag that changes with the generation, as GCS's.
func etag(o *Object) string {
	var x [16]byte
	binary.BigEndian.PutUint64(x[:], uint64(o.Generation))
	binary.BigEndian.PutUint64(x[8:], uint64(o.Metageneration))
	return base64.StdEncoding.EncodeToString(x[:])
}

func (s *Server) resource(r *http.Request, bucket string, o *Object) objectJSON {
	base := "http://" + r.Host
	esc := url.PathEscape(o.Name)
	return objectJSON{
		Kind:               "storage#object",
		ID:                 fmt.Sprintf("%s/%s/%d", bucket, o.Name, o.Generation),
		SelfLink:           base + "/storage/v1/b/" + bucket + "/o/" + esc,
		MediaLink:          base + "/download/storage/v1/b/" + bucket + "/o/" + esc + "?generation=" + strconv.FormatInt(o.Generation, 10) + "&alt=media",
		Name:               o.Name,
		Bucket:             bucket,
		Generation:         strconv.FormatInt(o.Generation, 10),
		Metageneration:     strconv.FormatInt(o.Metageneration, 10),
		ContentType:        o.ContentType,
		ContentEncoding:    o.ContentEncoding,
		ContentDisposition: o.ContentDisposition,
		ContentLanguage:    o.ContentLanguage,
		CacheControl:       o.CacheControl,
		StorageClass:       "STANDARD",
		Size:               strconv.Itoa(len(o.Data)),
		MD5Hash:            md5Of(o.Data),
		CRC32C:             crc32cOf(o.Data),
		ETag:               etag(o),
		TimeCreated:        o.Created.Format("2006-01-02T15:04:05.000Z07:00"),
		Updated:            o.Updated.Format("2006-01-02T15:04:05.000Z07:00"),
		Metadata:           o.Metadata,
	}
}

// precondition checks the ifGeneration* parameters against o (nil: no
// object); it writes the 412 and returns false when one fails.
func precondition(w http.ResponseWriter, q url.Values, o *Object) bool {
	gen := int64(0)
	if o != nil {
		gen = o.Generation
	}
	if v := q.Get("ifGenerationMatch"); v != "" {
		if want, _ := strconv.ParseInt(v, 10, 64); want != gen {
			apiError(w, http.StatusPreconditionFailed, "conditionNotMet", "At least one of the pre-conditions you specified did not hold.")
			return false
		}
	}
	if v := q.Get("ifGenerationNotMatch"); v != "" {
		if want, _ := strconv.ParseInt(v, 10, 64); want == gen {
			apiError(w, http.StatusPreconditionFailed, "conditionNotMet", "At least one of the pre-conditions you specified did not hold.")
			return false
		}
	}
	return true
}

func (s *Server) get(w http.ResponseWriter, r *http.Request, bucket, name string) {
	s.mu.Lock()
	o := s.buckets[bucket][name]
	s.mu.Unlock()
	if o == nil {
		notFound(w, bucket, name)
		return
	}
	q := r.URL.Query()
	if !precondition(w, q, o) {
		return
	}
	if q.Get("alt") != "media" {
		writeJSON(w, s.resource(r, bucket, o))
		return
	}
	h := w.Header()
	h.Set("Content-Type", o.ContentType)
	h.Set("ETag", etag(o))
	h.Set("Last-Modified", o.Updated.Format(http.TimeFormat))
	h.Set("X-Goog-Generation", strconv.FormatInt(o.Generation, 10))
	h.Set("X-Goog-Metageneration", strconv.FormatInt(o.Metageneration, 10))
	h.Set("X-Goog-Hash", "crc32c="+crc32cOf(o.Data)+",md5="+md5Of(o.Data))
	h.Set("X-Goog-Stored-Content-Length", strconv.Itoa(len(o.Data)))
	enc := o.ContentEncoding
	if enc == "" {
		enc = "identity"
	}
	h.Set("X-Goog-Stored-Content-Encoding", enc)
	h.Set("X-Goog-Storage-Class", "STANDARD")
	for k, v := range o.Metadata {
		h.Set("X-Goog-Meta-"+k, v)
	}
	for k, v := range map[string]string{"Content-Encoding": o.ContentEncoding, "Content-Disposition": o.ContentDisposition, "Content-Language": o.ContentLanguage, "Cache-Control": o.CacheControl} {
		if v != "" {
			h.Set(k, v)
		}
	}
	data := o.Data
	rng := r.Header.Get("Range")
	if rng == "" {
		h.Set("Content-Length", strconv.Itoa(len(data)))
		w.WriteHeader(http.StatusOK)
		w.Write(data)
		return
	}
	first, last, ok := parseRange(rng, int64(len(data)))
	if !ok {
		h.Del("Content-Type")
		h.Set("Content-Range", fmt.Sprintf("bytes */%d", len(data)))
		apiError(w, http.StatusRequestedRangeNotSatisfiable, "requestedRangeNotSatisfiable", "Request range not satisfiable")
		return
	}
	h.Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", first, last, len(data)))
	h.Set("Content-Length", strconv.FormatInt(last-first+1, 10))
	w.WriteHeader(http.StatusPartialContent)
	w.Write(data[first : last+1])
}

// parseRange parses one byte range, "bytes=A-B", "bytes=A-" or "bytes=-N",
// against size; ok is false for a range that is not satisfiable.
func parseRange(h string, size int64) (first, last int64, ok bool) {
	spec, found := strings.CutPrefix(h, "bytes=")
	a, b, dash := strings.Cut(spec, "-")
	if !found || !dash || strings.Contains(spec, ",") {
		return 0, 0, false
	}
	if a == "" { // suffix: the last b bytes
		n, err := strconv.ParseInt(b, 10, 64)
		if err != nil || n <= 0 || size == 0 {
			return 0, 0, false
		}
		return max(size-n, 0), size - 1, true
	}
	first, err := strconv.ParseInt(a, 10, 64)
	if err != nil || first >= size {
		return 0, 0, false
	}
	last = size - 1
	if b != "" {
		l, err := strconv.ParseInt(b, 10, 64)
		if err != nil || l < first {
			return 0, 0, false
		}
		last = min(l, size-1)
	}
	return first, last, true
}

func (s *Server) delete(w http.ResponseWriter, r *http.Request, bucket, name string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.buckets[bucket][name]
	if o == nil {
		notFound(w, bucket, name)
		return
	}
	if !precondition(w, r.URL.Query(), o) {
		return
	}
	delete(s.buckets[bucket], name)
	w.WriteHeader(http.StatusNoContent)
}

func (s *Server) list(w http.ResponseWriter, r *http.Request, bucket string) {
	q := r.URL.Query()
	prefix, delim := q.Get("prefix"), q.Get("delimiter")
	limit := 1000
	if v := q.Get("maxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			apiError(w, http.StatusBadRequest, "invalid", "Invalid value for maxResults")
			return
		}
		if n > 0 && n < limit {
			limit = n
		}
	}
	after := ""
	if t := q.Get("pageToken"); t != "" {
		b, err := base64.StdEncoding.DecodeString(t)
		if err != nil {
			apiError(w, http.StatusBadRequest, "invalid", "Invalid page token")
			return
		}
		after = string(b)
	}
	s.mu.Lock()
	var names []string
	for n := range s.buckets[bucket] {
		if strings.HasPrefix(n, prefix) {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	objs := map[string]*Object{}
	for _, n := range names {
		objs[n] = s.buckets[bucket][n]
	}
	s.mu.Unlock()

	res := struct {
		Kind          string       `json:"kind"`
		NextPageToken string       `json:"nextPageToken,omitempty"`
		Prefixes      []string     `json:"prefixes,omitempty"`
		Items         []objectJSON `json:"items,omitempty"`
	}{Kind: "storage#objects"}
	n, last := 0, ""
	for _, name := range names {
		entry, dir := name, false
		if delim != "" {
			if i := strings.Index(name[len(prefix):], delim); i >= 0 {
				entry, dir = name[:len(prefix)+i+len(delim)], true
			}
		}
		// An entry at or before the token (the last one sent) was on an
		// earlier page, as was every object under a "directory" there.
		if entry <= after {
			continue
		}
		if dir && entry == last {
			continue // one entry per "directory"
		}
		if n == limit {
			res.NextPageToken = base64.StdEncoding.EncodeToString([]byte(last))
			break
		}
		if dir {
			res.Prefixes = append(res.Prefixes, entry)
		} else {
			res.Items = append(res.Items, s.resource(r, bucket, objs[name]))
		}
		n, last = n+1, entry
	}
	writeJSON(w, res)
}

func (s *Server) rewrite(w http.ResponseWriter, r *http.Request, srcBucket, srcName, dstBucket, dstName string) {
	q := r.URL.Query()
	var meta objectJSON
	if err := json.NewDecoder(r.Body).Decode(&meta); err != nil && err != io.EOF {
		apiError(w, http.StatusBadRequest, "parseError", "Parse Error")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.buckets[dstBucket]; !ok {
		apiError(w, http.StatusNotFound, "notFound", "The specified bucket does not exist.")
		return
	}
	src := s.buckets[srcBucket][srcName]
	if src == nil {
		notFound(w, srcBucket, srcName)
		return
	}
	if !precondition(w, q, s.buckets[dstBucket][dstName]) {
		return
	}
	size := int64(len(src.Data))
	done := size
	if s.RewriteChunk > 0 {
		prev := int64(0)
		if t := q.Get("rewriteToken"); t != "" {
			prev, _ = strconv.ParseInt(t, 10, 64)
		}
		done = min(prev+s.RewriteChunk, size)
	}
	res := map[string]any{
		"kind":                "storage#rewriteResponse",
		"totalBytesRewritten": strconv.FormatInt(done, 10),
		"objectSize":          strconv.FormatInt(size, 10),
		"done":                done == size,
	}
	if done < size {
		res["rewriteToken"] = strconv.FormatInt(done, 10)
		writeJSON(w, res)
		return
	}
	c := *src
	c.Name, c.Data = dstName, bytes.Clone(src.Data)
	if meta.ContentType != "" {
		c.ContentType = meta.ContentType
	}
	s.store(dstBucket, &c)
	res["resource"] = s.resource(r, dstBucket, &c)
	writeJSON(w, res)
}

// insert is objects.insert: uploadType=multipart (metadata and media in
// one multipart/related body), media (bytes only, the name in ?name=) or
// resumable (metadata now, the bytes to the session URI it answers with).
func (s *Server) insert(w http.ResponseWriter, r *http.Request, bucket string) {
	q := r.URL.Query()
	var meta objectJSON
	var data []byte
	ctype := ""
	switch q.Get("uploadType") {
	case "multipart":
		mt, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
		if err != nil || mt != "multipart/related" {
			apiError(w, http.StatusBadRequest, "invalid", "Content-Type must be multipart/related")
			return
		}
		mr := multipart.NewReader(r.Body, params["boundary"])
		part, err := mr.NextPart()
		if err != nil || json.NewDecoder(part).Decode(&meta) != nil {
			apiError(w, http.StatusBadRequest, "parseError", "Metadata part is missing or bad")
			return
		}
		part, err = mr.NextPart()
		if err != nil {
			apiError(w, http.StatusBadRequest, "invalid", "Media part is missing")
			return
		}
		ctype = part.Header.Get("Content-Type")
		if data, err = io.ReadAll(part); err != nil {
			apiError(w, http.StatusBadRequest, "invalid", "Media part is truncated")
			return
		}
		if _, err := mr.NextPart(); err != io.EOF {
			apiError(w, http.StatusBadRequest, "invalid", "Multipart body is truncated or has extra parts")
			return
		}
	case "media":
		var err error
		if data, err = io.ReadAll(r.Body); err != nil {
			return
		}
		meta.Name, ctype = q.Get("name"), r.Header.Get("Content-Type")
	case "resumable":
		if err := json.NewDecoder(r.Body).Decode(&meta); err != nil && err != io.EOF {
			apiError(w, http.StatusBadRequest, "parseError", "Parse Error")
			return
		}
		if meta.Name == "" {
			meta.Name = q.Get("name")
		}
		if meta.Name == "" {
			apiError(w, http.StatusBadRequest, "required", "Required")
			return
		}
		s.mu.Lock()
		s.nextID++
		id := fmt.Sprintf("upload-%d", s.nextID)
		s.sessions[id] = &session{bucket: bucket, meta: meta, ctype: r.Header.Get("X-Upload-Content-Type"), conds: q}
		s.mu.Unlock()
		loc := url.Values{"uploadType": {"resumable"}, "upload_id": {id}}
		w.Header().Set("Location", "http://"+r.Host+"/upload/storage/v1/b/"+url.PathEscape(bucket)+"/o?"+loc.Encode())
		w.Header().Set("X-GUploader-UploadID", id)
		w.WriteHeader(http.StatusOK)
		return
	default:
		apiError(w, http.StatusBadRequest, "invalidParameter", "Invalid upload type")
		return
	}
	if meta.Name == "" {
		meta.Name = q.Get("name")
	}
	s.commit(w, r, bucket, meta, ctype, q, data)
}

// commit stores an uploaded object and answers with its resource.
func (s *Server) commit(w http.ResponseWriter, r *http.Request, bucket string, meta objectJSON, ctype string, conds url.Values, data []byte) {
	if meta.Name == "" {
		apiError(w, http.StatusBadRequest, "required", "Required")
		return
	}
	if meta.MD5Hash != "" && meta.MD5Hash != md5Of(data) {
		apiError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("Provided MD5 hash %q doesn't match calculated MD5 hash %q.", meta.MD5Hash, md5Of(data)))
		return
	}
	if meta.CRC32C != "" && meta.CRC32C != crc32cOf(data) {
		apiError(w, http.StatusBadRequest, "invalid", fmt.Sprintf("Provided CRC32C %q doesn't match calculated CRC32C %q.", meta.CRC32C, crc32cOf(data)))
		return
	}
	if meta.ContentType == "" {
		meta.ContentType = ctype
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if !precondition(w, conds, s.buckets[bucket][meta.Name]) {
		return
	}
	o := &Object{
		Name:               meta.Name,
		Data:               data,
		ContentType:        meta.ContentType,
		ContentEncoding:    meta.ContentEncoding,
		ContentDisposition: meta.ContentDisposition,
		ContentLanguage:    meta.ContentLanguage,
		CacheControl:       meta.CacheControl,
		Metadata:           meta.Metadata,
	}
	s.store(bucket, o)
	writeJSON(w, s.resource(r, bucket, o))
}

// chunk takes bytes for a resumable upload: Content-Range "bytes A-B/*"
// (more to come), "bytes A-B/TOTAL" (the last) or "bytes */TOTAL" (the
// end, no bytes).
func (s *Server) chunk(w http.ResponseWriter, r *http.Request, id string) {
	s.mu.Lock()
	sess := s.sessions[id]
	s.mu.Unlock()
	if sess == nil {
		apiError(w, http.StatusNotFound, "notFound", "No such upload session")
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return // the client went away mid-chunk: nothing is kept
	}
	cr, ok := strings.CutPrefix(r.Header.Get("Content-Range"), "bytes ")
	span, total, ok2 := strings.Cut(cr, "/")
	if !ok || !ok2 {
		apiError(w, http.StatusBadRequest, "invalid", "Bad Content-Range")
		return
	}
	if span != "*" {
		a, b, _ := strings.Cut(span, "-")
		first, err1 := strconv.ParseInt(a, 10, 64)
		last, err2 := strconv.ParseInt(b, 10, 64)
		if err1 != nil || err2 != nil || last-first+1 != int64(len(body)) {
			apiError(w, http.StatusBadRequest, "invalid", "Content-Range does not match the body")
			return
		}
		s.mu.Lock()
		if first != int64(len(sess.data)) {
			s.mu.Unlock()
			apiError(w, http.StatusBadRequest, "invalid", "Chunk does not continue the upload")
			return
		}
		sess.data = append(sess.data, body...)
		s.mu.Unlock()
	}
	if total == "*" {
		// Incomplete: 308 Resume Incomplete, or with X-GUploader-No-308
		// (which the Go client sends) 200 and a header saying 308.
		s.mu.Lock()
		n := len(sess.data)
		s.mu.Unlock()
		if n > 0 {
			w.Header().Set("Range", fmt.Sprintf("bytes=0-%d", n-1))
		}
		if r.Header.Get("X-GUploader-No-308") == "yes" {
			w.Header().Set("X-Http-Status-Code-Override", "308")
			w.WriteHeader(http.StatusOK)
		} else {
			w.WriteHeader(http.StatusPermanentRedirect)
		}
		return
	}
	s.mu.Lock()
	delete(s.sessions, id)
	data := sess.data
	s.mu.Unlock()
	if want, err := strconv.Atoi(total); err != nil || want != len(data) {
		apiError(w, http.StatusBadRequest, "invalid", "Upload length does not match the total")
		return
	}
	ctype := sess.ctype
	if ctype == "" {
		ctype = r.Header.Get("Content-Type")
	}
	s.commit(w, r, sess.bucket, sess.meta, ctype, sess.conds, data)
}
