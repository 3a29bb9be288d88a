package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/goproxytest"
	"github.com/rogpeppe/go-internal/gotooltest"
	"github.com/rogpeppe/go-internal/testscript"

	"gomodfetch/internal/cachecmp"
	"gomodfetch/internal/faultproxy"
)

func TestMain(m *testing.M) {
	testscript.Main(m, map[string]func(){
		"gomodfetch": func() { os.Exit(run(os.Args, os.Stdout, os.Stderr)) },
	})
}

// TestScripts runs testscript/*.txtar. A script with a .gomodproxy
// directory gets a goproxytest server behind two fault-injecting fronts
// (faultproxy Servers) on 127.0.0.1:0: $PROXYURL (also GOPROXY) and $PROXYURL2, plus $DEADPROXY, an
// address that refuses connections. A file named faults (or faults2) in the
// script's work directory gives the first (second) front its rules from the
// start; the faults command changes them. Every script gets
// GOMODCACHE=$WORK/modcache and GOFLAGS=-modcacherw (so the work tree can
// be removed), and the real go command as the oracle.
func TestScripts(t *testing.T) {
	p := testscript.Params{
		Dir:   "testscript",
		Setup: setupScript,
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"cmpcache":  cmdCmpCache,
			"proxyreqs": cmdProxyReqs,
			"proxylog":  cmdProxyLog,
			"cmpjson":   cmdCmpJSON,
			"cmperr":    cmdCmpErr,
			"faults":    cmdFaults,
			"githost":   cmdGitHost,
			"privproxy": cmdPrivProxy,
		},
		RequireExplicitExec: true,
	}
	p.Setup = withTrust(p.Setup)
	trusted := p.Setup
	p.Setup = func(env *testscript.Env) error {
		if err := trusted(env); err != nil {
			return err
		}
		return setupGitHost(env)
	}
	maps.Copy(p.Cmds, trustCmds)
	maps.Copy(p.Cmds, serveCmds)
	maps.Copy(p.Cmds, diskCmds)
	maps.Copy(p.Cmds, policyCmds)
	maps.Copy(p.Cmds, pruneCmds)
	if err := gotooltest.Setup(&p); err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, p)
}

type frontKey struct{ n int }

// backendKey finds the script's goproxytest server's URL (behind the
// fronts) among its values.
type backendKey struct{}

func setupScript(env *testscript.Env) error {
	env.Setenv("GOMODCACHE", filepath.Join(env.WorkDir, "modcache"))
	env.Setenv("GOFLAGS", "-modcacherw")
	env.Setenv("GOTOOLCHAIN", "local")
	env.Setenv("GOSUMDB", "sum.golang.org")
	env.Setenv("GONOSUMDB", "*")
	env.Setenv("GOPRIVATE", "")
	env.Setenv("GONOPROXY", "")
	env.Setenv("GOWORK", "off")
	proxyDir := filepath.Join(env.WorkDir, goproxytest.GoModProxyDir)
	if fi, err := os.Stat(proxyDir); err != nil || !fi.IsDir() {
		env.Setenv("GOPROXY", "off")
		return nil
	}
	srv, err := goproxytest.NewServer(proxyDir, "127.0.0.1:0")
	if err != nil {
		return fmt.Errorf("cannot start Go proxy: %v", err)
	}
	env.Defer(srv.Close)
	env.Values[backendKey{}] = srv.URL
	for n, name := range []string{"PROXYURL", "PROXYURL2"} {
		f, err := faultproxy.Start(faultproxy.Options{Backend: srv.URL})
		if err != nil {
			return err
		}
		env.Defer(f.Close)
		rules := filepath.Join(env.WorkDir, "faults")
		if n > 0 {
			rules += strconv.Itoa(n + 1)
		}
		if _, err := os.Stat(rules); err == nil {
			if err := f.LoadRules(rules); err != nil {
				return err
			}
		}
		env.Values[frontKey{n}] = f
		env.Setenv(name, f.URL)
	}
	dead, closeDead, err := faultproxy.DeadURL("/mod")
	if err != nil {
		return err
	}
	env.Defer(closeDead)
	env.Setenv("DEADPROXY", dead)
	env.Setenv("GOPROXY", env.Getenv("PROXYURL"))
	return nil
}

// frontOf returns the front a command names with a leading "@2" (the
// second front) or "@sumdb" (the checksum database's, see setupTrust) or,
// by default, the first, and the remaining arguments.
func frontOf(ts *testscript.TestScript, args []string) (*faultproxy.Server, []string) {
	n := 0
	if len(args) > 0 && args[0] == "@2" {
		n, args = 1, args[1:]
	} else if len(args) > 0 && args[0] == "@sumdb" {
		n, args = sumdbFrontN, args[1:]
	}
	f, _ := ts.Value(frontKey{n}).(*faultproxy.Server)
	if f == nil && n == sumdbFrontN {
		ts.Fatalf("no checksum database in this script (add a .sumdb file and a .gomodproxy directory)")
	}
	if f == nil {
		ts.Fatalf("no proxy in this script (add a .gomodproxy directory)")
	}
	return f, args
}

// faults [@2|@sumdb] file replaces a front's fault rules with those in file (see
// faultproxy.ParseRules for the rules).
func cmdFaults(ts *testscript.TestScript, neg bool, args []string) {
	f, args := frontOf(ts, args)
	if neg || len(args) != 1 {
		ts.Fatalf("usage: faults [@2|@sumdb] file")
	}
	if err := f.LoadRules(ts.MkAbs(args[0])); err != nil {
		ts.Fatalf("faults: %v", err)
	}
}

// proxyreqs [@2|@sumdb] reset | proxyreqs [@2|@sumdb] [>|<] N
// checks the number of requests a front has seen since the last reset.
func cmdProxyReqs(ts *testscript.TestScript, neg bool, args []string) {
	f, args := frontOf(ts, args)
	if len(args) == 1 && args[0] == "reset" {
		f.Reset()
		return
	}
	cmp := "=="
	if len(args) == 2 {
		cmp, args = args[0], args[1:]
	}
	if len(args) != 1 {
		ts.Fatalf("usage: proxyreqs [@2|@sumdb] reset | proxyreqs [@2|@sumdb] [>|<] N")
	}
	want, err := strconv.Atoi(args[0])
	if err != nil {
		ts.Fatalf("proxyreqs: %v", err)
	}
	got := f.Count()
	var ok bool
	switch cmp {
	case "==":
		ok = got == want
	case ">":
		ok = got > want
	case "<":
		ok = got < want
	default:
		ts.Fatalf("proxyreqs: unknown comparison %q", cmp)
	}
	if ok == neg {
		ts.Fatalf("proxy saw %d requests; want %s %d\n%s", got, cmp, want, strings.Join(f.Log(), "\n"))
	}
}

// proxylog prints the requests the proxy has seen (to stdout, for
// matching with stdout/! stdout).
func cmdProxyLog(ts *testscript.TestScript, neg bool, args []string) {
	if neg {
		ts.Fatalf("unsupported: ! proxylog")
	}
	f, _ := frontOf(ts, args)
	for _, l := range f.Log() {
		fmt.Fprintln(ts.Stdout(), l)
	}
}

// cmpcache dirA dirB compares two module caches: the same files (ignoring
// .lock files and temporary files), the same bytes and the same
// permission bits. A cache that does not exist is empty.
func cmdCmpCache(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: cmpcache dirA dirB")
	}
	a, b := ts.MkAbs(args[0]), ts.MkAbs(args[1])
	diffs := cachecmp.Compare(a, b)
	if len(diffs) > 0 && !neg {
		ts.Fatalf("caches differ:\n%s", strings.Join(diffs, "\n"))
	}
	if len(diffs) == 0 && neg {
		ts.Fatalf("caches are identical")
	}
}

// cmpjson goFile ourFile goCache ourCache compares two `-json` outputs after
// replacing goCache with ourCache in the first: same objects, same fields,
// same order.
// cmdCmpErr compares what go printed on stderr (goFile) with what
// gomodfetch printed (ourFile), line for line, with each line's "go: "
// prefix read as "gomodfetch: ".
func cmdCmpErr(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 2 {
		ts.Fatalf("usage: cmperr goFile ourFile")
	}
	lines := strings.Split(ts.ReadFile(args[0]), "\n")
	for i, l := range lines {
		if rest, ok := strings.CutPrefix(l, "go: "); ok {
			lines[i] = "gomodfetch: " + rest
		}
	}
	want, got := strings.Join(lines, "\n"), ts.ReadFile(args[1])
	if (want == got) == neg {
		ts.Fatalf("stderr differs from go's (neg=%v):\n--- go\n%s\n--- gomodfetch\n%s", neg, want, got)
	}
}

func cmdCmpJSON(ts *testscript.TestScript, neg bool, args []string) {
	if len(args) != 4 {
		ts.Fatalf("usage: cmpjson goFile ourFile goCache ourCache")
	}
	want := strings.ReplaceAll(ts.ReadFile(args[0]), ts.MkAbs(args[2]), ts.MkAbs(args[3]))
	got := ts.ReadFile(args[1])
	if (want == got) == neg {
		ts.Fatalf("-json output differs from go's (neg=%v):\n--- go\n%s\n--- gomodfetch\n%s", neg, want, got)
	}
}
