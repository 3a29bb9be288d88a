package main

// Bad caches: read-only, owned by another user, full. As root (these tests
// run as root in CI) file modes do not stop writes, so the conditions are
// made real: a read-only or size-limited tmpfs mounted on the cache
// directory, and gomodfetch run as the user nobody. Where mount is not
// allowed the tests that need it are skipped; a non-root user gets the
// read-only case from file modes instead.

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"gomodfetch/internal/cachecmp"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
)

// mount runs mount(8) with args, skipping the test if this machine does
// not allow it, and unmounts target when the test ends.
func mount(t *testing.T, target string, args ...string) {
	t.Helper()
	if os.Getuid() != 0 {
		t.Skip("mounting needs root")
	}
	out, err := exec.Command("mount", append(args, target)...).CombinedOutput()
	if err != nil {
		t.Skipf("cannot mount here: %v: %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", target).Run() })
}

// runFailing runs gomodfetch, which must fail with status 1, and returns
// its stderr.
func runFailing(t *testing.T, cmd *exec.Cmd) string {
	t.Helper()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	err := cmd.Run()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("gomodfetch: %v, want exit status 1\n%s", err, stderr.String())
	}
	return stderr.String()
}

// oneLineError checks that stderr is a single line naming a path inside
// cache and the reason.
func oneLineError(t *testing.T, stderr, cache, reason string) {
	t.Helper()
	re := regexp.MustCompile(`^gomodfetch: module cache ` + regexp.QuoteMeta(cache) + ` is not usable: writing ` + regexp.QuoteMeta(cache) + `\S*: ` + reason + "\n$")
	if !re.MatchString(stderr) {
		t.Fatalf("want one line naming a path in %s and %q; got:\n%s", cache, reason, stderr)
	}
}

// checkNothingHalfWritten fails if cache holds a temp file, a .partial
// marker, a zip without its .ziphash, or any file whose bytes differ from
// go's (a version list may lack versions, never hold wrong ones).
func checkNothingHalfWritten(t *testing.T, cache, ref string) {
	t.Helper()
	if left := leftovers(cache, true); len(left) > 0 {
		t.Fatalf("left in the cache: %s", strings.Join(left, ", "))
	}
	want, err := cachecmp.Read(ref)
	if err != nil {
		t.Fatal(err)
	}
	got, err := cachecmp.Read(cache)
	if err != nil {
		t.Fatal(err)
	}
	for p, e := range got {
		if !e.Mode.IsRegular() {
			continue
		}
		w, ok := want[p]
		switch {
		case !ok:
			t.Errorf("%s: not in go's cache", p)
		case filepath.Base(p) == "list":
			for _, v := range strings.Fields(string(e.Data)) {
				if !strings.Contains(string(w.Data), v+"\n") {
					t.Errorf("%s: lists %s", p, v)
				}
			}
		case !bytes.Equal(e.Data, w.Data):
			t.Errorf("%s: %d bytes, go's has %d", p, len(e.Data), len(w.Data))
		case strings.HasSuffix(p, ".zip"):
			if _, ok := got[p+"hash"]; !ok {
				t.Errorf("%s without .ziphash", p)
			}
		}
	}
}

// TestCacheReadOnly: a read-only cache fails with one line naming the path
// and writes nothing; a read-only cache that already holds everything
// serves, as it does for go.
func TestCacheReadOnly(t *testing.T) {
	fx := newCrashFixture(t)
	cache := filepath.Join(t.TempDir(), "modcache")
	if err := os.Mkdir(cache, 0o777); err != nil {
		t.Fatal(err)
	}
	reason := "permission denied"
	if os.Getuid() == 0 {
		mount(t, cache, "-t", "tmpfs", "-o", "ro,mode=0755", "tmpfs")
		reason = "read-only file system"
	} else {
		os.Chmod(cache, 0o555)
		t.Cleanup(func() { os.Chmod(cache, 0o777) })
	}
	dir := fx.project(t)
	stderr := runFailing(t, fx.cmd("gomodfetch", dir, cache, fx.backend, true, "-q"))
	oneLineError(t, stderr, cache, reason)
	if entries, _ := os.ReadDir(cache); len(entries) > 0 {
		t.Fatalf("read-only cache was written: %v", entries)
	}

	t.Run("warm", func(t *testing.T) {
		warm := filepath.Join(t.TempDir(), "warm")
		fx.run(t, "gomodfetch", dir, warm, fx.backend, true, "-q")
		if os.Getuid() != 0 {
			t.Skip("needs a read-only bind mount (root)")
		}
		mount(t, warm, "--bind", warm)
		mount(t, warm, "-o", "remount,bind,ro")
		fx.run(t, "gomodfetch", dir, warm, "off", true, "-q")
		fx.run(t, "go", dir, warm, "off", true, "mod", "download")
	})

	// One module missing from a read-only cache: it fails with the one
	// line, the modules already there are still reported complete.
	t.Run("partly warm", func(t *testing.T) {
		warm := filepath.Join(t.TempDir(), "warm")
		fx.run(t, "gomodfetch", dir, warm, fx.backend, true, "-q")
		if os.Getuid() != 0 {
			t.Skip("needs a read-only bind mount (root)")
		}
		for _, p := range []string{"cache/download/example.com/small", "example.com/small@v1.0.0"} {
			if err := os.RemoveAll(filepath.Join(warm, p)); err != nil {
				t.Fatal(err)
			}
		}
		mount(t, warm, "--bind", warm)
		mount(t, warm, "-o", "remount,bind,ro")
		cmd := fx.cmd("gomodfetch", dir, warm, fx.backend, true, "-q", "-json")
		var stdout bytes.Buffer
		cmd.Stdout = &stdout
		stderr := runFailing(t, cmd)
		oneLineError(t, stderr, warm, "read-only file system")
		dec := json.NewDecoder(&stdout)
		var failed []string
		for dec.More() {
			var m struct{ Path, Error, Dir string }
			if err := dec.Decode(&m); err != nil {
				t.Fatal(err)
			}
			if m.Error != "" {
				failed = append(failed, m.Path)
			} else if m.Dir == "" {
				t.Errorf("%s: no Dir", m.Path)
			}
		}
		if len(failed) != 1 || failed[0] != "example.com/small" {
			t.Fatalf("failed modules: %v, want [example.com/small]", failed)
		}
	})
}

// TestCacheOtherUser: a cache owned by another user (root, mode 0755) and
// gomodfetch run as nobody: one line naming the path, nothing written.
func TestCacheOtherUser(t *testing.T) {
	if os.Getuid() != 0 {
		t.Skip("needs root to run gomodfetch as another user")
	}
	fx := newCrashFixture(t)
	root := t.TempDir()
	// nobody must reach the binary, the project and a home of its own.
	for p := root; p != "/" && p != "."; p = filepath.Dir(p) {
		if fi, err := os.Stat(p); err == nil && fi.Mode().Perm()&0o005 != 0o005 {
			if err := os.Chmod(p, fi.Mode().Perm()|0o005); err != nil {
				t.Fatal(err)
			}
		}
	}
	bin, err := exec.LookPath("gomodfetch")
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	self := filepath.Join(root, "bin", "gomodfetch")
	writeFiles(t, root, map[string]string{"bin/gomodfetch": string(data)})
	os.Chmod(filepath.Dir(self), 0o755)
	os.Chmod(self, 0o755)
	dir := filepath.Join(root, "project")
	for _, name := range []string{"go.mod", "go.sum"} {
		b, err := os.ReadFile(filepath.Join(fx.dir, name))
		if err != nil {
			t.Fatal(err)
		}
		writeFiles(t, dir, map[string]string{name: string(b)})
	}
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err == nil {
			os.Chmod(p, map[bool]fs.FileMode{true: 0o755, false: 0o644}[d.IsDir()]|map[bool]fs.FileMode{true: 0o111}[p == self])
		}
		return nil
	})
	const nobody = 65534
	home := filepath.Join(root, "home")
	if err := os.Mkdir(home, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chown(home, nobody, nobody); err != nil {
		t.Fatal(err)
	}
	cache := filepath.Join(root, "modcache")
	if err := os.Mkdir(cache, 0o755); err != nil {
		t.Fatal(err)
	}

	cmd := fx.cmd(self, dir, cache, fx.backend, true, "-q")
	for i, kv := range cmd.Env {
		if strings.HasPrefix(kv, "HOME=") || strings.HasPrefix(kv, "GOPATH=") || strings.HasPrefix(kv, "GOCACHE=") {
			k, _, _ := strings.Cut(kv, "=")
			cmd.Env[i] = k + "=" + filepath.Join(home, strings.ToLower(k))
		}
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: nobody, Gid: nobody}}
	stderr := runFailing(t, cmd)
	oneLineError(t, stderr, cache, "permission denied")
	if entries, _ := os.ReadDir(cache); len(entries) > 0 {
		t.Fatalf("cache owned by another user was written: %v", entries)
	}
}

// TestCacheFull: a cache on a file system that fills up while the large
// zip downloads, or while it is extracted: one line naming the path and
// "no space left on device", nothing half-written; with space again, the
// next run completes.
func TestCacheFull(t *testing.T) {
	fx := newCrashFixture(t)
	zip, err := os.Stat(filepath.Join(fx.refRW, "cache/download/example.com/big/@v/v1.0.0.zip"))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		size int64
	}{
		{"while downloading", 64 << 10},
		{"while extracting", zip.Size() + 128<<10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := filepath.Join(t.TempDir(), "modcache")
			if err := os.Mkdir(cache, 0o777); err != nil {
				t.Fatal(err)
			}
			mount(t, cache, "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0755", tc.size), "tmpfs")
			dir := fx.project(t)
			stderr := runFailing(t, fx.cmd("gomodfetch", dir, cache, fx.backend, true, "-q"))
			oneLineError(t, stderr, cache, "no space left on device")
			t.Logf("%s", stderr)
			checkNothingHalfWritten(t, cache, fx.refRW)

			out, err := exec.Command("mount", "-o", "remount,size=64m", cache).CombinedOutput()
			if err != nil {
				t.Fatalf("remount: %v: %s", err, out)
			}
			fx.run(t, "gomodfetch", dir, cache, fx.backend, true, "-q")
			fx.checkCache(t, dir, cache, fx.refRW, true, true)
		})
	}
}
