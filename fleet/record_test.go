package fleet

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
)

func TestPutIfAbsent(t *testing.T) {
	s, dir := openFile(t, Config{})
	ctx := context.Background()
	const key = "gomodfetch/first-hash/abc"
	if _, err := s.ReadSmall(ctx, key, 64); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("ReadSmall of a missing object: %v; want not exist", err)
	}
	// Replicas race to record: exactly one wins, the others see its bytes.
	const n = 8
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = s.PutIfAbsent(ctx, key, []byte{'0' + byte(i)})
		}()
	}
	wg.Wait()
	won := -1
	for i, err := range errs {
		switch {
		case err == nil && won >= 0:
			t.Fatalf("replicas %d and %d both wrote", won, i)
		case err == nil:
			won = i
		case !errors.Is(err, ErrExists):
			t.Fatalf("replica %d: %v; want ErrExists", i, err)
		}
	}
	if won < 0 {
		t.Fatal("no replica wrote")
	}
	got, err := s.ReadSmall(ctx, key, 64)
	if err != nil || string(got) != string(rune('0'+won)) {
		t.Fatalf("ReadSmall = %q, %v; want the winner's %q", got, err, string(rune('0'+won)))
	}
	// No temp file is left behind.
	entries, err := os.ReadDir(filepath.Join(dir, "gomodfetch", "first-hash"))
	if err != nil || len(entries) != 1 {
		t.Fatalf("record directory holds %d entries (%v); want 1", len(entries), err)
	}
	// A symlink at the name is not written through.
	target := filepath.Join(t.TempDir(), "outside")
	if err := os.Symlink(target, filepath.Join(dir, "gomodfetch", "first-hash", "link")); err != nil {
		t.Fatal(err)
	}
	if err := s.PutIfAbsent(ctx, "gomodfetch/first-hash/link", []byte("x")); !errors.Is(err, ErrExists) {
		t.Fatalf("PutIfAbsent over a symlink: %v; want ErrExists", err)
	}
	if _, err := os.Stat(target); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("the symlink's target was written: %v", err)
	}
}
