//go:build !gomodfetch_nogcs

package fleet

import (
	"context"
	"errors"
	"io/fs"
	"testing"
)

// TestGSPutIfAbsent: the conditional write of a bucket service (fake GCS:
// ifGenerationMatch=0): the first record stays, a second one is ErrExists
// and not counted as a failure.
func TestGSPutIfAbsent(t *testing.T) {
	fakeGS(t)
	s := openGS(t, Config{})
	ctx := context.Background()
	const key = "gomodfetch/first-hash/abc"
	if _, err := s.ReadSmall(ctx, key, 64); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadSmall of a missing object: %v; want not exist", err)
	}
	if err := s.PutIfAbsent(ctx, key, []byte("h1:first\n")); err != nil {
		t.Fatalf("first PutIfAbsent: %v", err)
	}
	if err := s.PutIfAbsent(ctx, key, []byte("h1:second\n")); !errors.Is(err, ErrExists) {
		t.Fatalf("second PutIfAbsent: %v; want ErrExists", err)
	}
	got, err := s.ReadSmall(ctx, key, 64)
	if err != nil || string(got) != "h1:first\n" {
		t.Fatalf("ReadSmall = %q, %v; want the first record", got, err)
	}
	if st := s.Stats(); st.WriteErrors != 0 || st.Writes != 1 {
		t.Fatalf("stats %+v; want 1 write, 0 write errors", st)
	}
}
