package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"

	"github.com/rogpeppe/go-internal/testscript"
)

// pruneCmds are the testscript commands of the prune scripts.
var pruneCmds = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"holdlock":   cmdHoldLock,
	"cachesize":  cmdCacheSize,
	"checkfreed": cmdCheckFreed,
}

// heldLocks are the lock files holdlock holds, by path.
var heldLocks sync.Map

// holdlock file takes an exclusive flock on file (created if missing), as
// the go command holds a version's lock while it downloads it, until
// 'holdlock -release file' or the end of the script.
func cmdHoldLock(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 || (len(args) == 2 && args[0] != "-release") {
		ts.Fatalf("usage: holdlock [-release] file")
	}
	if args[0] == "-release" {
		f, ok := heldLocks.LoadAndDelete(ts.MkAbs(args[1]))
		if !ok {
			ts.Fatalf("%s is not held", args[1])
		}
		f.(*os.File).Close()
		return
	}
	name := ts.MkAbs(args[0])
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o666)
	ts.Check(err)
	ts.Check(syscall.Flock(int(f.Fd()), syscall.LOCK_EX))
	heldLocks.Store(name, f)
	ts.Defer(func() {
		if f, ok := heldLocks.LoadAndDelete(name); ok {
			f.(*os.File).Close()
		}
	})
}

// cachesize dir prints "files=N bytes=M": the files below dir that are
// not directories, and the bytes of the regular ones.
func cmdCacheSize(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: cachesize dir")
	}
	files, bytes, err := treeSize(ts.MkAbs(args[0]))
	ts.Check(err)
	fmt.Fprintf(ts.Stdout(), "files=%d bytes=%d\n", files, bytes)
}

func treeSize(root string) (files, bytes int64, err error) {
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		files++
		if fi.Mode().IsRegular() {
			bytes += fi.Size()
		}
		return nil
	})
	return files, bytes, err
}

// checkfreed before after json checks that the versions the prune -json
// output json says were removed add up to what the cache lost: before and
// after are cachesize outputs. With no version removed the sizes must be
// equal.
func cmdCheckFreed(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 3 {
		ts.Fatalf("usage: checkfreed before after json")
	}
	size := func(file string) (f, b int64) {
		_, err := fmt.Sscanf(strings.TrimSpace(ts.ReadFile(file)), "files=%d bytes=%d", &f, &b)
		ts.Check(err)
		return f, b
	}
	f0, b0 := size(args[0])
	f1, b1 := size(args[1])
	dec := json.NewDecoder(strings.NewReader(ts.ReadFile(args[2])))
	var files, bytes int64
	n := 0
	for {
		var v struct {
			Files, Bytes int64
			Removed      bool
		}
		err := dec.Decode(&v)
		if errors.Is(err, io.EOF) {
			break
		}
		ts.Check(err)
		if v.Removed {
			files, bytes, n = files+v.Files, bytes+v.Bytes, n+1
		}
	}
	if f0-f1 != files || b0-b1 != bytes {
		ts.Fatalf("the cache lost %d files, %d bytes; the %d versions reported removed add up to %d files, %d bytes", f0-f1, b0-b1, n, files, bytes)
	}
	fmt.Fprintf(ts.Stdout(), "freed %d files, %d bytes in %d versions\n", files, bytes, n)
}
