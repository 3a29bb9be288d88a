package audit_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"gomodfetch/audit"
	"gomodfetch/internal/modtest"
	"gomodfetch/modcache"
	"gomodfetch/project"
)

// downloaded is a project whose download filled a fresh module cache
// from a file:// GOPROXY tree: a (which requires b) and c are required; the audit's Config for it, and the cache's root.
func downloaded(t *testing.T) (*project.Project, audit.Config, string) {
	t.Helper()
	goproxy, _ := modtest.ProxyTree(t,
		modtest.Module{Path: "example.com/a", Version: "v1.0.0", GoMod: "module example.com/a\n\ngo 1.21\n\nrequire example.com/b v1.1.0\n", Files: map[string]string{"a.go": "package a\n"}},
		modtest.Module{Path: "example.com/b", Version: "v1.1.0", GoMod: "module example.com/b\n\ngo 1.21\n", Files: map[string]string{"b.go": "package b\n"}},
		modtest.Module{Path: "example.com/c", Version: "v1.2.0", GoMod: "module example.com/c\n\ngo 1.21\n", Files: map[string]string{"c.go": "package c\n"}},
	)
	dir, modCache := t.TempDir(), filepath.Join(t.TempDir(), "modcache")
	gomod := "module example.com/main\n\ngo 1.22\n\nrequire (\n\texample.com/a v1.0.0\n\texample.com/c v1.2.0\n)\n"
	if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte(gomod), 0o666); err != nil {
		t.Fatal(err)
	}
	vars := map[string]string{
		"GOPROXY": goproxy, "GOSUMDB": "off", "GOMODCACHE": modCache, "GOENV": "off", "GOTOOLCHAIN": "local",
		"GOWORK": "off", "HOME": t.TempDir(), "PATH": os.Getenv("PATH"), "GOROOT": os.Getenv("GOROOT"),
	}
	env, err := project.NewEnv(func(k string) string { return vars[k] })
	if err != nil {
		t.Fatal(err)
	}
	s := project.Defaults()
	s.Dir, s.ModCacheRW = dir, true
	ctx := context.Background()
	p, err := project.Open(ctx, s, env, project.Hooks{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close(true, true) })
	if res, err := p.Download(ctx, project.RunHooks{}); err != nil || res.Failed() {
		t.Fatalf("download: %v %q", err, res.Errors(false, false))
	}
	return p, audit.Config{Cache: p.Cache(true), Sums: p.Sums}, modCache
}

// check audits the cache for p's download and returns each finding's
// line, and the graph's other failures.
func check(t *testing.T, p *project.Project, cfg audit.Config) ([]string, []error) {
	t.Helper()
	res, err := p.Resolve(context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	found, other := audit.Check(context.Background(), cfg, res)
	var lines []string
	for _, f := range found {
		lines = append(lines, f.Line())
	}
	return lines, other
}

func TestIntactCache(t *testing.T) {
	p, cfg, _ := downloaded(t)
	if lines, other := check(t, p, cfg); len(lines) > 0 || len(other) > 0 {
		t.Fatalf("findings %q, graph errors %v; want none", lines, other)
	}
}

// TestDamage: each way a restored cache is damaged is one finding, named
// by its module, with the parts a repair fetches again.
func TestDamage(t *testing.T) {
	dl := func(root, path, file string) string {
		return filepath.Join(root, "cache", "download", "example.com", path, "@v", file)
	}
	for _, tc := range []struct {
		name   string
		damage func(t *testing.T, root string)
		want   string
		parts  []modcache.Part
	}{
		{"missing zip", func(t *testing.T, root string) {
			must(t, os.Remove(dl(root, "a", "v1.0.0.zip")))
		}, "example.com/a@v1.0.0: missing .zip", []modcache.Part{modcache.PartZip}},
		{"modified tree", func(t *testing.T, root string) {
			must(t, os.WriteFile(filepath.Join(root, "example.com", "c@v1.2.0", "c.go"), []byte("package c // changed\n"), 0o666))
		}, "example.com/c@v1.2.0: extracted directory has been modified", nil},
		{"missing tree", func(t *testing.T, root string) {
			must(t, os.RemoveAll(filepath.Join(root, "example.com", "a@v1.0.0")))
		}, "example.com/a@v1.0.0: missing extracted directory", nil},
		{"damaged go.mod", func(t *testing.T, root string) {
			must(t, os.WriteFile(dl(root, "c", "v1.2.0.mod"), []byte("module example.com/c\n"), 0o666))
		}, "example.com/c@v1.2.0: ", []modcache.Part{modcache.PartMod}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, cfg, root := downloaded(t)
			tc.damage(t, root)
			res, err := p.Resolve(context.Background(), true)
			if err != nil {
				t.Fatal(err)
			}
			found, _ := audit.Check(context.Background(), cfg, res)
			if len(found) != 1 {
				var lines []string
				for _, f := range found {
					lines = append(lines, f.Line())
				}
				t.Fatalf("findings %q; want one for %q", lines, tc.want)
			}
			f := found[0]
			if !strings.HasPrefix(f.Line(), tc.want) || !strings.HasSuffix(f.Line(), "; run 'gomodfetch verify -repair' to fetch it again") {
				t.Errorf("line %q; want %q…", f.Line(), tc.want)
			}
			for _, part := range tc.parts {
				if !slices.Contains(f.Parts(), part) {
					t.Errorf("parts %v lack %v", f.Parts(), part)
				}
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
