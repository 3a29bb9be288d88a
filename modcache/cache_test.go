package modcache

import (
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/mod/module"
)

// TestRepairList: a version list that a killed run left empty, torn
// (zero-filled) or without the version of a cached .mod is rewritten.
func TestRepairList(t *testing.T) {
	for name, list := range map[string]string{
		"empty":   "",
		"torn":    "\x00\x00\x00\x00\x00\x00\x00",
		"short":   "v0.9.0\n",
		"missing": "-",
	} {
		t.Run(name, func(t *testing.T) {
			c := &Cache{Root: t.TempDir()}
			mod := module.Version{Path: "example.com/m", Version: "v1.0.0"}
			if _, err := c.WriteGoMod(module.Version{Path: mod.Path, Version: "v0.9.0"}, []byte("module example.com/m\n")); err != nil {
				t.Fatal(err)
			}
			file, err := c.File(mod, "mod")
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, []byte("module example.com/m\n"), 0o666); err != nil {
				t.Fatal(err)
			}
			listFile := filepath.Join(filepath.Dir(file), "list")
			if list == "-" {
				os.Remove(listFile)
			} else if err := os.WriteFile(listFile, []byte(list), 0o666); err != nil {
				t.Fatal(err)
			}
			c.RepairList(mod)
			got, err := os.ReadFile(listFile)
			if err != nil {
				t.Fatal(err)
			}
			if want := "v0.9.0\nv1.0.0\n"; string(got) != want {
				t.Fatalf("list = %q, want %q", got, want)
			}
		})
	}
}
