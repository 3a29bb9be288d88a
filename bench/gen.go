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
const genVersion = 3

// genParams decide the module set; the same params give the same bytes.
type genParams struct {
	Seed    uint64
	Modules int     // regular modules (plus the chain)
	Chain   int     // length of the chain of go 1.16 modules read only for their go.mod
	Scale   float64 // multiplies every zip size (blobs) or file count (real)
	// Shape is "real" (zips of many small source files, as real modules
	// are: a few large modules with thousands of files, one zip of about
	// 50 MB) or "blobs" (few files, large incompressible blobs).
	Shape string
}

// modVersion is one version of one module in the set.
type modVersion struct {
	Path, Version string
	Go            string // "" means no go line (unpruned, like 1.16)
	Requires      []module.Version
	ZipTarget     int64 // approximate zip size (blobs)
	Files         int   // source files (real)
	Huge          bool  // the one large generated module (real)
	ZipSize       int64 // actual, after generation
	ZipFiles      int   // files in the zip, after generation
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
	Mirror   string // with -set projects: whether the mirror is full (mirrorFullness)
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

// filesFor draws a module's file count skewed like real graphs: most
// modules have a few dozen files, some hundreds, a few over a thousand.
func filesFor(r *rand.Rand, scale float64) int {
	x := r.Float64()
	var lo, hi float64
	switch {
	case x < 0.75:
		lo, hi = 5, 40
	case x < 0.955:
		lo, hi = 40, 250
	default:
		lo, hi = 250, 1500
	}
	return max(1, int(scale*lo*math.Pow(hi/lo, r.Float64())))
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
		m := &modVersion{Path: modName(i), Version: "v1.0.0", Go: goLine, ZipTarget: sizeFor(r, p.Scale), Files: filesFor(r, p.Scale)}
		regular = append(regular, m)
		selected[m.Path] = m.Version
	}
	if p.Shape == "real" && n > 10 {
		// The one big generated module (an SDK): about 50 MB of zip.
		regular[n/2].Huge, regular[n/2].Files = true, int(4000*p.Scale)
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
		v0 := &modVersion{Path: path, Version: "v1.0.0", Go: goLine, ZipTarget: sizeFor(r, p.Scale), Files: filesFor(r, p.Scale)}
		v1 := &modVersion{Path: path, Version: "v1.1.0", Go: goLine, ZipTarget: sizeFor(r, p.Scale), Files: filesFor(r, p.Scale)}
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
	b1 := &modVersion{Path: b.Path, Version: "v1.1.0", Go: b.Go, Requires: b.Requires, ZipTarget: b.ZipTarget, Files: b.Files}
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

// textFile writes Go-looking text of about n bytes. Identifiers carry
// random suffixes, so it compresses about as well as real source (3-4x).
func textFile(r *rand.Rand, pkg string, n int) []byte {
	var b bytes.Buffer
	b.Grow(n + 256)
	fmt.Fprintf(&b, "package %s\n\n", pkg)
	f := 0
	for b.Len() < n {
		fmt.Fprintf(&b, "// F%d %s %s %s.\nfunc F%d_%x(", f, words[r.IntN(len(words))], words[r.IntN(len(words))], words[r.IntN(len(words))], f, r.Uint32())
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
				if r.IntN(3) == 0 {
					fmt.Fprintf(&b, "%x", r.Uint32()&0xffff)
				}
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
		mv.ZipFiles++
		_, err = w.Write(data)
		return err
	}
	mv.ZipFiles = 0
	if p.Shape == "real" {
		return writeRealZip(r, mv, gomod, file, zw, &buf, add)
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

// writeRealZip writes a zip shaped like a real module's: go.mod, LICENSE,
// README.md and mv.Files source files of a few KB each (a log-normal
// spread from 300 B to 80 KB; 40 KB on average for the generated module),
// a handful to a package directory, some packages nested.
func writeRealZip(r *rand.Rand, mv *modVersion, gomod, file string, zw *zip.Writer, buf *bytes.Buffer, add func(string, []byte, uint16) error) error {
	if err := add("go.mod", []byte(gomod), zip.Deflate); err != nil {
		return err
	}
	if err := add("LICENSE", textFile(r, "license", 1100), zip.Deflate); err != nil {
		return err
	}
	if err := add("README.md", textFile(r, "readme", 2500), zip.Deflate); err != nil {
		return err
	}
	median := 4000.0
	if mv.Huge {
		median = 32000
	}
	dir, left := "", 0
	for i := range mv.Files {
		if left == 0 {
			left = 3 + r.IntN(12)
			switch {
			case i == 0:
				dir = ""
			case r.IntN(3) == 0 && dir != "":
				dir = fmt.Sprintf("%s/sub%d", dir, i)
			default:
				dir = fmt.Sprintf("pkg%d", i)
			}
		}
		left--
		n := int(median * math.Exp(0.9*r.NormFloat64()))
		n = min(max(n, 300), 80000)
		name := fmt.Sprintf("file%d.go", i)
		if i%5 == 4 {
			name = fmt.Sprintf("file%d_test.go", i)
		}
		if dir != "" {
			name = dir + "/" + name
		}
		if err := add(name, textFile(r, "p", n), zip.Deflate); err != nil {
			return err
		}
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
		removeAll(dir)
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
			if reuse {
				if mv.ZipFiles, err = zipFiles(base + ".zip"); err != nil {
					return err
				}
			}
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

func zipFiles(file string) (int, error) {
	z, err := zip.OpenReader(file)
	if err != nil {
		return 0, err
	}
	defer z.Close()
	return len(z.File), nil
}

func mainGoMod(reqs []module.Version) string {
	return goModText("bench.example/app", "1.21", reqs)
}

// zipBytes is the total size of the zips of mods, the largest, and how
// many files they hold.
func (s *moduleSet) zipBytes(mods []module.Version) (total, largest int64, files int) {
	byMod := map[module.Version]*modVersion{}
	for _, mv := range s.Versions {
		byMod[module.Version{Path: mv.Path, Version: mv.Version}] = mv
	}
	for _, m := range mods {
		mv := byMod[m]
		total += mv.ZipSize
		largest = max(largest, mv.ZipSize)
		files += mv.ZipFiles
	}
	return total, largest, files
}
