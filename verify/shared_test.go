package verify

import (
	"context"
	"errors"
	"path/filepath"
	"sync"
	"testing"

	"golang.org/x/mod/module"
)

// memRecord is a shared record in memory; fail makes it unreachable.
type memRecord struct {
	mu   sync.Mutex
	m    map[module.Version]string
	fail bool
}

func (r *memRecord) Lookup(ctx context.Context, mod module.Version) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return "", errors.New("bucket down")
	}
	return r.m[mod], nil
}

func (r *memRecord) Agree(ctx context.Context, mod module.Version, h string) (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.fail {
		return "", errors.New("bucket down")
	}
	if prev, ok := r.m[mod]; ok {
		return prev, nil
	}
	r.m[mod] = h
	return h, nil
}

func TestSharedRecord(t *testing.T) {
	shared := &memRecord{m: map[module.Version]string{}}
	private := func(string) bool { return true }
	replica := func() (*Verifier, *[]string) {
		sums, err := ReadSums(filepath.Join(t.TempDir(), "serve-private.sum"))
		if err != nil {
			t.Fatal(err)
		}
		var warned []string
		return &Verifier{Sums: sums, SkipSumDB: private, RecordOnly: private, Shared: shared,
			Warn: func(msg string) { warned = append(warned, msg) }}, &warned
	}
	ctx := context.Background()
	mod := module.Version{Path: "corp.example/a", Version: "v1.0.0"}
	const first, moved = "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=", "h1:BBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB="

	a, _ := replica()
	if err := a.Check(ctx, mod, first); err != nil {
		t.Fatalf("replica A, first hash: %v", err)
	}
	b, _ := replica()
	if h, err := b.Expected(ctx, mod); err != nil || h != first {
		t.Fatalf("replica B Expected = %q, %v; want A's %q", h, err, first)
	}
	var mismatch *ChecksumMismatchError
	if err := b.Check(ctx, mod, moved); !errors.As(err, &mismatch) || mismatch.Recorded != first {
		t.Fatalf("replica B, moved tag: %v; want a mismatch with %s", err, first)
	}
	if err := b.Check(ctx, mod, first); err != nil {
		t.Fatalf("replica B, the recorded bytes: %v", err)
	}

	// The bucket down: the local record decides, and it is said.
	shared.fail = true
	c, warned := replica()
	other := module.Version{Path: "corp.example/a", Version: "v1.1.0"}
	if err := c.Check(ctx, other, first); err != nil || len(*warned) != 1 {
		t.Fatalf("bucket down: %v, warnings %q; want accepted with one warning", err, *warned)
	}
	if err := c.Check(ctx, other, moved); !errors.As(err, &mismatch) {
		t.Fatalf("bucket down, then other bytes: %v; want the local record's mismatch", err)
	}
}
