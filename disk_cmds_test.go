package main

import (
	"archive/zip"
	"bytes"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/rogpeppe/go-internal/testscript"
)

// diskCmds are the testscript commands of the scripts about what is
// trusted on disk.
var diskCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"lstree":    cmdLsTree,
	"tamperzip": cmdTamperZip,
}

// lstree dir prints every path below dir with its mode, size,
// modification time and, for a symlink, its target: a listing that shows
// any write.
func cmdLsTree(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: lstree dir")
	}
	root := ts.MkAbs(args[0])
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		line := fmt.Sprintf("%s %v %d %d", filepath.ToSlash(rel), fi.Mode(), fi.Size(), fi.ModTime().UnixNano())
		if fi.Mode()&fs.ModeSymlink != 0 {
			target, _ := os.Readlink(p)
			line += " -> " + target
		}
		fmt.Fprintln(ts.Stdout(), line)
		return nil
	})
	ts.Check(err)
}

// tamperzip file renames the first file in the zip (its name's last
// letter changed), keeping the zip's size: bytes changed after the zip
// was verified, its .ziphash left as it was.
func cmdTamperZip(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: tamperzip file")
	}
	file := ts.MkAbs(args[0])
	data, err := os.ReadFile(file)
	ts.Check(err)
	z, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	ts.Check(err)
	if len(z.File) == 0 {
		ts.Fatalf("%s: empty zip", file)
	}
	name := []byte(z.File[len(z.File)-1].Name)
	renamed := bytes.Clone(name)
	renamed[len(renamed)-1] ^= 1
	os.Chmod(file, 0o666)
	ts.Check(os.WriteFile(file, bytes.ReplaceAll(data, name, renamed), 0o666))
}
