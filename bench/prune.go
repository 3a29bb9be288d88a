package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/mod/sumdb/dirhash"
)

var pruneBench = flag.Bool("prune", false, "benchmark gomodfetch prune: a CI cache (kept between jobs, as actions/cache with restore keys) through ten go.sum changes, with and without prune (bench/prune.go)")

// Parameters of the prune bench's module set.
const (
	pruneModules = 60 // each with v1.0.0 and v1.1.0
	pruneFiles   = 40 // files per module zip, 1-8 KB of Go-like text each
	pruneChanges = 10 // go.sum changes: change k bumps the modules i with i%10 == k-1
)

// runPruneBench simulates a CI job's module cache that is restored from
// the previous job's and saved again (actions/cache with restore keys)
// through ten go.sum changes, each bumping six of sixty modules. One
// cache is saved as the job leaves it; the other is pruned first
// (gomodfetch prune -apply). For each change it prints the download's
// time, the prune's, the time to read the cache into a tar stream (what
// actions/cache does to save it) and the cache's size; at the end it
// checks the pruned cache with gomodfetch verify and go mod verify
// offline. GOPROXY=file:// (no network): the figures are the CPU and disk
// cost on this machine.
func runPruneBench(o options) error {
	work, err := os.MkdirTemp("", "gomodfetch-bench-prune-")
	if err != nil {
		return err
	}
	removeAtExit(work)
	gmf, goPath, err := tools(o, work)
	if err != nil {
		return err
	}
	proxy := filepath.Join(work, "proxy")
	sums, err := genPruneSet(proxy)
	if err != nil {
		return err
	}
	env := append(benchEnv(work, "file://"+filepath.ToSlash(proxy)), "GOFLAGS=") // read-only trees, as go leaves them
	type variant struct {
		name  string
		prune bool
		cache string
		app   string
	}
	vs := []*variant{{name: "without prune"}, {name: "with prune", prune: true}}
	for i, v := range vs {
		v.cache = filepath.Join(work, fmt.Sprintf("cache%d", i))
		v.app = filepath.Join(work, fmt.Sprintf("app%d", i))
		if err := os.MkdirAll(v.app, 0o777); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(v.app, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o666); err != nil {
			return err
		}
	}
	timed := func(dir string, env []string, name string, args ...string) (time.Duration, error) {
		syscall.Sync()
		c := exec.Command(name, args...)
		c.Dir, c.Env = dir, env
		var stderr bytes.Buffer
		c.Stderr = &stderr
		t0 := time.Now()
		err := c.Run()
		if err != nil {
			return 0, fmt.Errorf("%s %s: %v\n%s", filepath.Base(name), strings.Join(args, " "), err, stderr.String())
		}
		return time.Since(t0), nil
	}
	fmt.Printf("module set: %d modules x 2 versions, %d files each; %d go.sum changes of %d modules each; GOPROXY=file://\n\n",
		pruneModules, pruneFiles, pruneChanges, pruneModules/10)
	fmt.Printf("| change | variant | download | prune | save (tar read) | cache files | cache size |\n|---|---|---|---|---|---|---|\n")
	final := make([]string, len(vs))
	med := make([][3][]time.Duration, len(vs)) // download, prune, save over changes 1..10
	for k := 0; k <= pruneChanges; k++ {
		gomod, gosum := pruneProject(k, sums)
		for i, v := range vs {
			if err := os.WriteFile(filepath.Join(v.app, "go.mod"), []byte(gomod), 0o666); err != nil {
				return err
			}
			if err := os.WriteFile(filepath.Join(v.app, "go.sum"), []byte(gosum), 0o666); err != nil {
				return err
			}
			venv := append(slices.Clip(env), "GOMODCACHE="+v.cache, "GOPATH="+filepath.Join(work, fmt.Sprintf("gopath%d", i)))
			dl, err := timed(v.app, venv, gmf, "-q")
			if err != nil {
				return err
			}
			pr, prd := "—", time.Duration(0)
			if v.prune {
				if prd, err = timed(v.app, venv, gmf, "prune", "-apply"); err != nil {
					return err
				}
				pr = secs(prd)
			}
			t0 := time.Now()
			files, size, err := tarRead(v.cache)
			if err != nil {
				return err
			}
			save := time.Since(t0)
			fmt.Printf("| %d | %s | %s | %s | %s | %d | %s |\n", k, v.name, secs(dl), pr, secs(save), files, mib(size))
			if k > 0 {
				for j, d := range []time.Duration{dl, prd, save} {
					med[i][j] = append(med[i][j], d)
				}
			}
			if k == pruneChanges {
				final[i] = fmt.Sprintf("%s: %d files, %s", v.name, files, mib(size))
			}
		}
	}
	fmt.Printf("\nafter %d go.sum changes:\n", pruneChanges)
	for i, f := range final {
		pr := "—"
		if vs[i].prune {
			pr = secs(medianDur(med[i][1]))
		}
		fmt.Printf("  %s; median per job over the changes: download %s, prune %s, save %s\n",
			f, secs(medianDur(med[i][0])), pr, secs(medianDur(med[i][2])))
	}
	// The pruned cache serves the project offline.
	v := vs[1]
	venv := append(slices.Clip(env), "GOMODCACHE="+v.cache, "GOPATH="+filepath.Join(work, "gopath1"), "GOPROXY=off")
	if _, err := timed(v.app, venv, gmf, "verify"); err != nil {
		return fmt.Errorf("the pruned cache: %v", err)
	}
	if _, err := timed(v.app, venv, goPath, "mod", "verify"); err != nil {
		return fmt.Errorf("the pruned cache: %v", err)
	}
	fmt.Printf("pruned cache: gomodfetch verify and go mod verify pass offline\n")
	return nil
}

// tarRead reads every file of the cache into a tar stream that goes
// nowhere, as actions/cache reads it to save it, and returns the count of
// regular files and their bytes.
func tarRead(dir string) (files, size int64, err error) {
	tw := tar.NewWriter(io.Discard)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(fi, "")
		if err != nil {
			return err
		}
		hdr.Name = p
		if err := tw.WriteHeader(hdr); err != nil {
			return err
		}
		if !fi.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		n, err := io.Copy(tw, f)
		files, size = files+1, size+n
		return err
	})
	if err == nil {
		err = tw.Close()
	}
	return files, size, err
}

// prunePath is module i's path.
func prunePath(i int) string { return fmt.Sprintf("example.com/prune/m%02d", i) }

// pruneVersion is module i's version after change k.
func pruneVersion(i, k int) string {
	if i%10 < k {
		return "v1.1.0"
	}
	return "v1.0.0"
}

// pruneProject is the project's go.mod and go.sum after change k.
func pruneProject(k int, sums map[string]string) (gomod, gosum string) {
	var m, s strings.Builder
	m.WriteString("module example.com/prune/app\n\ngo 1.21\n\nrequire (\n")
	for i := range pruneModules {
		p, v := prunePath(i), pruneVersion(i, k)
		fmt.Fprintf(&m, "\t%s %s\n", p, v)
		fmt.Fprintf(&s, "%s %s %s\n%s %s/go.mod %s\n", p, v, sums[p+"@"+v], p, v, sums[p+"@"+v+"/go.mod"])
	}
	m.WriteString(")\n")
	return m.String(), s.String()
}

// genPruneSet writes the module set in the GOPROXY layout below dir and
// returns the go.sum hashes, by path@version (and path@version/go.mod).
func genPruneSet(dir string) (map[string]string, error) {
	sums := map[string]string{}
	r := rand.New(rand.NewPCG(7, 7))
	for i := range pruneModules {
		p := prunePath(i)
		vdir := filepath.Join(dir, filepath.FromSlash(p), "@v")
		if err := os.MkdirAll(vdir, 0o777); err != nil {
			return nil, err
		}
		versions := []string{"v1.0.0", "v1.1.0"}
		for _, v := range versions {
			gomod := []byte("module " + p + "\n\ngo 1.21\n")
			var buf bytes.Buffer
			zw := zip.NewWriter(&buf)
			add := func(name string, data []byte) error {
				w, err := zw.Create(p + "@" + v + "/" + name)
				if err == nil {
					_, err = w.Write(data)
				}
				return err
			}
			if err := add("go.mod", gomod); err != nil {
				return nil, err
			}
			for f := range pruneFiles {
				var src strings.Builder
				fmt.Fprintf(&src, "package m%02d\n\n", i)
				for src.Len() < 1024+r.IntN(7*1024) {
					fmt.Fprintf(&src, "// F%d_%d returns a value for %s %s.\nfunc F%d_%d() int { return %d }\n\n", f, r.IntN(1e6), p, v, f, r.IntN(1e6), r.IntN(1e9))
				}
				if err := add(fmt.Sprintf("f%02d.go", f), []byte(src.String())); err != nil {
					return nil, err
				}
			}
			if err := zw.Close(); err != nil {
				return nil, err
			}
			zipFile := filepath.Join(vdir, v+".zip")
			if err := os.WriteFile(zipFile, buf.Bytes(), 0o666); err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(vdir, v+".mod"), gomod, 0o666); err != nil {
				return nil, err
			}
			if err := os.WriteFile(filepath.Join(vdir, v+".info"), []byte(`{"Version":"`+v+`","Time":"2024-01-01T00:00:00Z"}`), 0o666); err != nil {
				return nil, err
			}
			h, err := dirhash.HashZip(zipFile, dirhash.DefaultHash)
			if err != nil {
				return nil, err
			}
			sums[p+"@"+v] = h
			hm, err := dirhash.DefaultHash([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
				return io.NopCloser(bytes.NewReader(gomod)), nil
			})
			if err != nil {
				return nil, err
			}
			sums[p+"@"+v+"/go.mod"] = hm
		}
		if err := os.WriteFile(filepath.Join(vdir, "list"), []byte(strings.Join(versions, "\n")+"\n"), 0o666); err != nil {
			return nil, err
		}
	}
	return sums, nil
}

func medianDur(d []time.Duration) time.Duration {
	if len(d) == 0 {
		return 0
	}
	d = slices.Clone(d)
	slices.Sort(d)
	return d[len(d)/2]
}
