package main

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"hash/fnv"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/mod/module"
	"golang.org/x/mod/sumdb/dirhash"
	"golang.org/x/sync/errgroup"
)

// genVersion changes whenever the generator's output changes, so a cached
// module set from an older generator is never reused.
const genVersion = 2

// genParams decide the module set; the same params give the same bytes.
type genParams struct {
	Seed    uint64
	Modules int     // regular modules (plus the chain)
	Chain   int     // length of the chain of go 1.16 modules read only for their go.mod
	Scale   float64 // multiplies every zip size
}

// modVersion is one version of one module in the set.
type modVersion struct {
	Path, Version string
	Go            string // "" means no go line (unpruned, like 1.16)
	Requires      []module.Version
	ZipTarget     int64 // approximate zip size
	ZipSize       int64 // actual, after generation
}

// moduleSet is the generated universe plus the main module's views of it.
type moduleSet struct {
	Dir      string // proxy root (GOPROXY file layout)
	Versions []*modVersion
	Main     []module.Version // base go.mod requirements
	Changed  []module.Version // same, one module bumped
	Bumped   module.Version   // the module version the changed case adds
	Depth    int              // levels of go.mod reading the graph needs
	GoMod    string           // base go.mod text
	GoModChg string           // changed go.mod text
	GoSum    string
}

// sizeFor draws a zip size skewed like real graphs: most modules are small,
// a few are large.
func sizeFor(r *rand.Rand, scale float64) int64 {
	x := r.Float64()
	var lo, hi float64
	switch {
	case x < 0.70:
		lo, hi = 3<<10, 80<<10
	case x < 0.92:
		lo, hi = 100<<10, 1<<20
	case x < 0.98:
		lo, hi = 1<<20, 5<<20
	default:
		lo, hi = 8<<20, 24<<20
	}
	// Log-uniform inside the band.
	return int64(scale * lo * math.Pow(hi/lo, r.Float64()))
}

func modName(i int) string {
	groups := []string{"github.com/acme", "github.com/Corp", "golang.example/x", "gopkg.example/yaml", "cloud.example/go"}
	return fmt.Sprintf("%s/m%03d", groups[i%len(groups)], i)
}

// plan builds the module graph (no bytes yet).
//
// Shape: Modules regular modules, each v1.0.0, requiring a few modules
// after it (a DAG), about one in ten at go 1.16 (unpruned). A chain of
// Chain modules has v1.0.0 and v1.1.0, all at go 1.16; the main module
// requires v1.1.0 of each, and chain[0]@v1.1.0 requires chain[1]@v1.0.0,
// whose go.mod requires chain[2]@v1.0.0, and so on: go.mod files that are
// read one level after another and never downloaded as zips. One regular
// module also has v1.1.0, which the "changed" case bumps to.
func plan(p genParams) *moduleSet {
	r := rand.New(rand.NewPCG(p.Seed, 0x9e3779b97f4a7c15))
	s := &moduleSet{}
	n := p.Modules
	selected := map[string]string{}
	var regular []*modVersion
	for i := range n {
		goLine := "1.21"
		if r.IntN(10) == 0 {
			goLine = "1.16"
		}
		m := &modVersion{Path: modName(i), Version: "v1.0.0", Go: goLine, ZipTarget: sizeFor(r, p.Scale)}
		regular = append(regular, m)
		selected[m.Path] = m.Version
	}
	for i, m := range regular {
		k := r.IntN(5)
		seen := map[int]bool{}
		for range k {
			if i+1 >= n {
				break
			}
			j := i + 1 + r.IntN(min(n-i-1, 60))
			if seen[j] {
				continue
			}
			seen[j] = true
			m.Requires = append(m.Requires, module.Version{Path: regular[j].Path, Version: "v1.0.0"})
		}
	}
	s.Versions = append(s.Versions, regular...)

	// The chain.
	var chain [][2]*modVersion
	for k := range p.Chain {
		path := fmt.Sprintf("old.example/legacy/chain%02d", k)
		goLine := "1.16"
		if k%2 == 1 {
			goLine = "" // no go line at all
		}
		v0 := &modVersion{Path: path, Version: "v1.0.0", Go: goLine, ZipTarget: sizeFor(r, p.Scale)}
		v1 := &modVersion{Path: path, Version: "v1.1.0", Go: goLine, ZipTarget: sizeFor(r, p.Scale)}
		chain = append(chain, [2]*modVersion{v0, v1})
		selected[path] = "v1.1.0"
	}
	for k := range chain {
		v0, v1 := chain[k][0], chain[k][1]
		if k+1 < len(chain) {
			next := chain[k+1][0].Path
			v0.Requires = append(v0.Requires, module.Version{Path: next, Version: "v1.0.0"})
			if k == 0 {
				v1.Requires = append(v1.Requires, module.Version{Path: next, Version: "v1.0.0"})
			} else {
				v1.Requires = append(v1.Requires, module.Version{Path: next, Version: "v1.1.0"})
			}
		}
		// Old modules also depend on a few regular ones.
		for range 2 {
			v1.Requires = append(v1.Requires, module.Version{Path: regular[r.IntN(n)].Path, Version: "v1.0.0"})
		}
		s.Versions = append(s.Versions, v0, v1)
	}
	s.Depth = 1 + len(chain)
	if len(chain) == 0 {
		s.Depth = 1
	}

	// The module the changed case bumps: a mid-sized, pruned one.
	bi := n / 3
	for i := n / 3; i < n; i++ {
		if regular[i].Go == "1.21" && regular[i].ZipTarget > 100<<10 {
			bi = i
			break
		}
	}
	b := regular[bi]
	b1 := &modVersion{Path: b.Path, Version: "v1.1.0", Go: b.Go, Requires: b.Requires, ZipTarget: b.ZipTarget}
	s.Versions = append(s.Versions, b1)
	s.Bumped = module.Version{Path: b.Path, Version: b1.Version}

	var paths []string
	for p := range selected {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		s.Main = append(s.Main, module.Version{Path: p, Version: selected[p]})
		v := selected[p]
		if p == b.Path {
			v = b1.Version
		}
		s.Changed = append(s.Changed, module.Version{Path: p, Version: v})
	}
	return s
}

func goModText(path, goLine string, reqs []module.Version) string {
	var b strings.Builder
	fmt.Fprintf(&b, "module %s\n", path)
	if goLine != "" {
		fmt.Fprintf(&b, "\ngo %s\n", goLine)
	}
	if len(reqs) > 0 {
		b.WriteString("\nrequire (\n")
		for _, r := range reqs {
			fmt.Fprintf(&b, "\t%s %s\n", r.Path, r.Version)
		}
		b.WriteString(")\n")
	}
	return b.String()
}

var words = strings.Fields(`func return if else for range var const type struct interface map chan
go defer select case default switch break continue package import nil true false err ctx
string int int64 byte rune error bool len cap make new append copy delete panic recover
client server request response handler config options value result buffer reader writer
module version path proxy cache download verify hash zip file directory lock retry backoff`)

// textFile writes Go-looking text of about n bytes.
func textFile(r *rand.Rand, pkg string, n int) []byte {
	var b bytes.Buffer
	b.Grow(n + 256)
	fmt.Fprintf(&b, "package %s\n\n", pkg)
	f := 0
	for b.Len() < n {
		fmt.Fprintf(&b, "// F%d %s %s %s.\nfunc F%d(", f, words[r.IntN(len(words))], words[r.IntN(len(words))], words[r.IntN(len(words))], f)
		for i := range 1 + r.IntN(3) {
			if i > 0 {
				b.WriteString(", ")
			}
			fmt.Fprintf(&b, "%s%d %s", words[r.IntN(len(words))], i, words[r.IntN(len(words))])
		}
		b.WriteString(") {\n")
		for range 2 + r.IntN(8) {
			b.WriteString("\t")
			for range 3 + r.IntN(7) {
				b.WriteString(words[r.IntN(len(words))])
				b.WriteByte(' ')
			}
			fmt.Fprintf(&b, "%d\n", r.IntN(1000))
		}
		b.WriteString("}\n\n")
		f++
	}
	return b.Bytes()
}

func seedOf(p genParams, s string) uint64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%d/%s", p.Seed, s)
	return h.Sum64()
}

// writeZip writes mv's zip: go.mod, LICENSE, Go text files (deflated,
// about a third of the target after compression) and, for larger modules,
// incompressible testdata blobs (stored) for the rest.
func writeZip(p genParams, mv *modVersion, gomod, file string) error {
	r := rand.New(rand.NewPCG(seedOf(p, mv.Path+"@"+mv.Version), 1))
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	prefix := mv.Path + "@" + mv.Version + "/"
	add := func(name string, data []byte, method uint16) error {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: prefix + name, Method: method, Modified: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
		if err != nil {
			return err
		}
		_, err = w.Write(data)
		return err
	}
	if err := add("go.mod", []byte(gomod), zip.Deflate); err != nil {
		return err
	}
	if err := add("LICENSE", []byte("Generated for the gomodfetch benchmark. Public domain.\n"), zip.Deflate); err != nil {
		return err
	}
	text := min(mv.ZipTarget, 300<<10)
	blob := mv.ZipTarget - text
	pkg := "m"
	nfiles := 1 + int(text/(24<<10))
	for i := range nfiles {
		dir := ""
		if i%4 == 3 {
			dir = fmt.Sprintf("sub%d/", i/4)
		}
		if err := add(fmt.Sprintf("%sfile%d.go", dir, i), textFile(r, pkg, int(3*text)/nfiles), zip.Deflate); err != nil {
			return err
		}
	}
	for i := 0; blob > 0; i++ {
		n := min(blob, 4<<20)
		data := make([]byte, n)
		var seed [32]byte
		for j := range seed {
			seed[j] = byte(r.Uint32())
		}
		rand.NewChaCha8(seed).Read(data)
		if err := add(fmt.Sprintf("testdata/blob%d.bin", i), data, zip.Store); err != nil {
			return err
		}
		blob -= n
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(file, buf.Bytes(), 0o666)
}

// generate writes the module set under dir in the GOPROXY layout, reusing
// what an earlier run with the same parameters left there.
func generate(p genParams, dir string) (*moduleSet, error) {
	s := plan(p)
	s.Dir = filepath.Join(dir, "proxy")
	done := filepath.Join(dir, "done")
	reuse := false
	if _, err := os.Stat(done); err == nil {
		reuse = true
	} else {
		os.RemoveAll(dir)
	}
	var (
		mu   sync.Mutex
		sums []string
		eg   errgroup.Group
	)
	eg.SetLimit(2)
	for _, mv := range s.Versions {
		eg.Go(func() error {
			ep, err := module.EscapePath(mv.Path)
			if err != nil {
				return err
			}
			vdir := filepath.Join(s.Dir, filepath.FromSlash(ep), "@v")
			base := filepath.Join(vdir, mv.Version)
			gomod := goModText(mv.Path, mv.Go, mv.Requires)
			if !reuse {
				if err := os.MkdirAll(vdir, 0o777); err != nil {
					return err
				}
				info, _ := json.Marshal(map[string]any{"Version": mv.Version, "Time": time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)})
				if err := os.WriteFile(base+".info", info, 0o666); err != nil {
					return err
				}
				if err := os.WriteFile(base+".mod", []byte(gomod), 0o666); err != nil {
					return err
				}
				if err := writeZip(p, mv, gomod, base+".zip"); err != nil {
					return err
				}
			}
			fi, err := os.Stat(base + ".zip")
			if err != nil {
				return err
			}
			mv.ZipSize = fi.Size()
			zh, err := dirhash.HashZip(base+".zip", dirhash.DefaultHash)
			if err != nil {
				return err
			}
			mh, err := dirhash.Hash1([]string{"go.mod"}, func(string) (io.ReadCloser, error) {
				return io.NopCloser(strings.NewReader(gomod)), nil
			})
			if err != nil {
				return err
			}
			mu.Lock()
			sums = append(sums, fmt.Sprintf("%s %s %s", mv.Path, mv.Version, zh), fmt.Sprintf("%s %s/go.mod %s", mv.Path, mv.Version, mh))
			mu.Unlock()
			return nil
		})
	}
	if err := eg.Wait(); err != nil {
		return nil, err
	}
	// Version lists, for completeness of the proxy.
	lists := map[string][]string{}
	for _, mv := range s.Versions {
		lists[mv.Path] = append(lists[mv.Path], mv.Version)
	}
	for path, vs := range lists {
		ep, _ := module.EscapePath(path)
		sort.Strings(vs)
		if err := os.WriteFile(filepath.Join(s.Dir, filepath.FromSlash(ep), "@v", "list"), []byte(strings.Join(vs, "\n")+"\n"), 0o666); err != nil {
			return nil, err
		}
	}
	sort.Strings(sums)
	s.GoSum = strings.Join(sums, "\n") + "\n"
	s.GoMod = mainGoMod(s.Main)
	s.GoModChg = mainGoMod(s.Changed)
	if !reuse {
		if err := os.WriteFile(done, nil, 0o666); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func mainGoMod(reqs []module.Version) string {
	return goModText("bench.example/app", "1.21", reqs)
}

// zipBytes is the total size of the zips of mods.
func (s *moduleSet) zipBytes(mods []module.Version) (total, largest int64) {
	size := map[module.Version]int64{}
	for _, mv := range s.Versions {
		size[module.Version{Path: mv.Path, Version: mv.Version}] = mv.ZipSize
	}
	for _, m := range mods {
		total += size[m]
		largest = max(largest, size[m])
	}
	return total, largest
}
