package fleet

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"gocloud.dev/blob"
	"gocloud.dev/gcerrors"
)

// Small objects written once: a record that replicas must agree on (serve's
// first hash of a private version). Unlike Put, these calls are made now,
// not in the background, and report what happened: a record cannot be
// dropped silently.

// ReadSmall returns the object at key, at most limit bytes, as Read reads
// it (a missing object, or a bucket set aside: an error matching
// fs.ErrNotExist).
func (s *Cache) ReadSmall(ctx context.Context, key string, limit int64) ([]byte, error) {
	var b bytes.Buffer
	if err := s.Read(ctx, key, &b, limit); err != nil {
		return nil, err
	}
	return b.Bytes(), nil
}

// ErrExists is a PutIfAbsent that found an object at its key.
var ErrExists = errors.New("an object is there already")

// PutIfAbsent writes data at key unless an object is there already (then
// it fails with ErrExists and leaves that object alone), within
// ReadTimeout: the object is small, and its caller waits for it (a
// verification, perhaps under a module version's lock). A file:// bucket links the new file into place, which fails
// if the name exists; other buckets use the service's conditional write
// (gocloud.dev/blob's IfNotExist: S3's If-None-Match, GCS's
// ifGenerationMatch=0, Azure's If-None-Match).
func (s *Cache) PutIfAbsent(ctx context.Context, key string, data []byte) error {
	if s.setAside() {
		s.skipped.Add(1)
		return fmt.Errorf("writing %s: %w", key, ErrSetAside)
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.ReadTimeout)
	defer cancel()
	var err error
	if s.dir != nil {
		err = s.linkFile(key, data)
	} else {
		err = s.b.WriteAll(ctx, key, data, &blob.WriterOptions{ContentType: "text/plain; charset=utf-8", IfNotExist: true})
		if gcerrors.Code(err) == gcerrors.FailedPrecondition {
			err = ErrExists
		}
	}
	switch {
	case err == nil:
		s.writes.Add(1)
		return nil
	case errors.Is(err, ErrExists):
		return err
	}
	s.writeErrs.Add(1)
	s.fail(&s.warnedW, fmt.Sprintf("fleet cache %s: writing %s: %v (the bucket is set aside for %v)", s.name, key, err, s.cfg.Cooldown))
	return fmt.Errorf("writing %s: %w", key, err)
}

// linkFile writes a file:// bucket's object at key if no file is there: a
// temp file below the bucket's directory (as putFile makes it), hard-linked
// to its name, which fails if the name exists (a symlink included).
func (s *Cache) linkFile(key string, data []byte) error {
	dir, base := path.Split(s.prefix + key)
	f, tmp, err := s.dir.CreateTemp(strings.TrimSuffix(dir, "/"), base+".", 0o666)
	if err != nil {
		return err
	}
	defer s.dir.Remove(tmp)
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Link(s.dir.Join(tmp), s.dir.Join(s.prefix+key)); err != nil {
		if errors.Is(err, os.ErrExist) {
			return ErrExists
		}
		return err
	}
	return nil
}
