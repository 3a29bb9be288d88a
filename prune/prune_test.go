package prune

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"gomodfetch/internal/beneath"
	"gomodfetch/modcache"
)

func TestVersionFile(t *testing.T) {
	for _, tc := range []struct {
		name, version, suffix string
	}{
		{"v1.0.0.info", "v1.0.0", "info"},
		{"v1.0.0.mod", "v1.0.0", "mod"},
		{"v1.0.0.zip", "v1.0.0", "zip"},
		{"v1.0.0.ziphash", "v1.0.0", "ziphash"},
		{"v1.0.0.lock", "v1.0.0", "lock"},
		{"v1.0.0.partial", "v1.0.0", "partial"},
		{"v1.0.0.zip123456.tmp", "v1.0.0", "zip"},     // go's zip temp file
		{"v1.0.0.ziphash99.tmp", "v1.0.0", "ziphash"}, // ours
		{"v1.0.0.info42.tmp", "v1.0.0", "info"},       // go's .info temp file
		{"v1.0.0.mod.gmf7.tmp", "v1.0.0", "mod"},      // ours
		{"v1.0.0-a.zip.zip", "v1.0.0-a.zip", "zip"},   // a version with .zip in it
		{"v1.0.0-a.mod.info", "v1.0.0-a.mod", "info"}, // the longest reading wins
		{"v2.0.0+incompatible.mod", "v2.0.0+incompatible", "mod"},
		{"v1.0.0-!r!c1.info", "v1.0.0-RC1", "info"}, // escaped upper case
		{"list", "", ""},
		{"list.gmf1.tmp", "", ""},
		{"v1.0.0.zipx", "", ""},
		{"notaversion.mod", "", ""},
		{"v1.0.0.mod.bak", "", ""},
	} {
		v, s, ok := versionFile(tc.name)
		if v != tc.version || s != tc.suffix || ok != (tc.version != "") {
			t.Errorf("versionFile(%q) = %q, %q, %v; want %q, %q", tc.name, v, s, ok, tc.version, tc.suffix)
		}
	}
}

// TestRunLeavesNothingElse: with nothing kept, every module version goes,
// including one with only an extracted tree and one with only a lock
// file, with the directories left empty (the @v directory TryLock makes
// for a tree-only version too); the checksum database's cache and
// cache/vcs stay; a dry run before changes nothing.
func TestRunLeavesNothingElse(t *testing.T) {
	root := t.TempDir()
	write := func(rel, data string, mode os.FileMode) {
		t.Helper()
		p := filepath.Join(root, filepath.FromSlash(rel))
		if err := os.MkdirAll(filepath.Dir(p), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), mode); err != nil {
			t.Fatal(err)
		}
	}
	for _, f := range []string{"v1.0.0.info", "v1.0.0.mod", "v1.0.0.zip", "v1.0.0.ziphash", "v1.0.0.lock", "v1.0.0.zip123.tmp"} {
		write("cache/download/example.com/a/@v/"+f, f, 0o666)
	}
	write("cache/download/example.com/a/@v/list", "v1.0.0\n", 0o666)
	write("example.com/a@v1.0.0/a.go", "package a\n", 0o444)
	write("example.com/b@v1.0.0/sub/b.go", "package b\n", 0o444)
	write("cache/download/example.com/c/@v/v1.0.0.lock", "", 0o666)
	write("cache/download/sumdb/sum.golang.org/lookup/example.com/a@v1.0.0", "sum", 0o666)
	write("cache/vcs/0123abcd/HEAD", "ref", 0o666)
	for _, d := range []string{"example.com/a@v1.0.0", "example.com/b@v1.0.0/sub", "example.com/b@v1.0.0"} {
		if err := os.Chmod(filepath.Join(root, d), 0o555); err != nil {
			t.Fatal(err)
		}
	}
	snapshot := func() []string {
		var out []string
		filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			rel, _ := filepath.Rel(root, p)
			out = append(out, filepath.ToSlash(rel))
			return nil
		})
		return out
	}
	before := snapshot()

	cfg := Config{Cache: &modcache.Cache{Root: root}, Keep: Keep{}}
	dry, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	if got := snapshot(); !slices.Equal(got, before) {
		t.Fatalf("a dry run changed the cache:\n%v\nwas\n%v", got, before)
	}
	cfg.Apply = true
	rep, err := Run(context.Background(), cfg)
	if err != nil || rep.Failed() {
		t.Fatalf("Run = %+v, %v", rep, err)
	}
	if rep.Removed() != 3 || rep.Modules() != 3 || dry.Removed() != 3 {
		t.Errorf("removed %d versions of %d modules (dry run: %d); want 3 of 3", rep.Removed(), rep.Modules(), dry.Removed())
	}
	// 7 files of a (with list), a.go, b.go, c's lock.
	if want := (beneath.Sizes{Files: 10, Bytes: int64(len("v1.0.0.infov1.0.0.modv1.0.0.zipv1.0.0.ziphashv1.0.0.lockv1.0.0.zip123.tmp") + 7 + 10 + 10)}); rep.Freed != want {
		t.Errorf("freed %+v; want %+v", rep.Freed, want)
	}
	want := []string{".", "cache", "cache/download", "cache/download/sumdb", "cache/download/sumdb/sum.golang.org",
		"cache/download/sumdb/sum.golang.org/lookup", "cache/download/sumdb/sum.golang.org/lookup/example.com",
		"cache/download/sumdb/sum.golang.org/lookup/example.com/a@v1.0.0", "cache/vcs", "cache/vcs/0123abcd", "cache/vcs/0123abcd/HEAD"}
	if got := snapshot(); !slices.Equal(got, want) {
		t.Errorf("left\n%v\nwant\n%v", got, want)
	}
}
