package project

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// Env reads Go configuration the way the go command does: the process
// environment first, then the file written by `go env -w` ($GOENV, by
// default <user config dir>/go/env), then $GOROOT/go.env. GOFLAGS is
// parsed once, into Flags.
type Env struct {
	getenv   func(string) string
	userFile map[string]string
	rootFile map[string]string
	// Flags are GOFLAGS' flags.
	Flags GoFlags
}

// NewEnv reads the Go environment through getenv (os.Getenv). Its error
// is a GOFLAGS value the go command would refuse, worded as go words it.
func NewEnv(getenv func(string) string) (*Env, error) {
	e := &Env{getenv: getenv}
	if file := e.goenvFile(); file != "" {
		e.userFile = readEnvFile(file)
	}
	if root := e.goroot(); root != "" {
		e.rootFile = readEnvFile(filepath.Join(root, "go.env"))
	}
	var err error
	e.Flags, err = parseGoFlags(e.Get("GOFLAGS"))
	return e, err
}

// Get returns the value of a Go setting, and "" if it is unset everywhere.
func (e *Env) Get(key string) string {
	if v, ok := e.lookupProcess(key); ok {
		return v
	}
	if v, ok := e.userFile[key]; ok {
		return v
	}
	return e.rootFile[key]
}

func (e *Env) lookupProcess(key string) (string, bool) {
	v := e.getenv(key)
	return v, v != ""
}

// goenvFile is $GOENV, or the default location of `go env -w` settings.
func (e *Env) goenvFile() string {
	if v := e.getenv("GOENV"); v != "" {
		if v == "off" {
			return ""
		}
		return v
	}
	dir := e.getenv("XDG_CONFIG_HOME")
	if dir == "" {
		home := e.getenv("HOME")
		if home == "" {
			return ""
		}
		dir = filepath.Join(home, ".config")
	}
	return filepath.Join(dir, "go", "env")
}

// goroot is $GOROOT, else the root of the go binary found on $PATH.
func (e *Env) goroot() string {
	if v := e.getenv("GOROOT"); v != "" {
		return v
	}
	if v, ok := e.userFile["GOROOT"]; ok && v != "" {
		return v
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		return ""
	}
	if real, err := filepath.EvalSymlinks(goBin); err == nil {
		goBin = real
	}
	return filepath.Dir(filepath.Dir(goBin))
}

// readEnvFile parses a go env file: KEY=VALUE lines, # comments.
func readEnvFile(file string) map[string]string {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil
	}
	m := map[string]string{}
	for _, line := range bytes.Split(data, []byte("\n")) {
		line = bytes.TrimSpace(line)
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		k, v, ok := bytes.Cut(line, []byte("="))
		if !ok {
			continue
		}
		m[string(bytes.TrimSpace(k))] = string(v)
	}
	return m
}

// gopath returns GOPATH's first entry (default $HOME/go).
func (e *Env) gopath() (string, error) {
	gp := e.Get("GOPATH")
	if gp == "" {
		home := e.getenv("HOME")
		if home == "" {
			return "", fmt.Errorf("neither GOPATH nor HOME is set: cannot find the module cache; set GOMODCACHE")
		}
		return filepath.Join(home, "go"), nil
	}
	first := filepath.SplitList(gp)[0]
	if !filepath.IsAbs(first) {
		return "", fmt.Errorf("GOPATH entry is relative; must be absolute path: %q", first)
	}
	return first, nil
}

// modCache returns GOMODCACHE (default $GOPATH/pkg/mod).
func (e *Env) modCache() (string, error) {
	if v := e.Get("GOMODCACHE"); v != "" {
		if !filepath.IsAbs(v) {
			return "", fmt.Errorf("GOMODCACHE entry is relative; must be absolute path: %q", v)
		}
		return v, nil
	}
	gp, err := e.gopath()
	if err != nil {
		return "", err
	}
	return filepath.Join(gp, "pkg", "mod"), nil
}

// GoFlags are the flags of GOFLAGS that some gomodfetch command defines.
// As in the go command, a command takes from GOFLAGS only the flags it
// defines, and only those not set on its command line; any flag that no go
// command defines is an error.
type GoFlags struct {
	JSON       bool   // -json
	Trace      bool   // -x
	ModCacheRW bool   // -modcacherw
	ModFile    string // -modfile
}

func parseGoFlags(s string) (GoFlags, error) {
	var f GoFlags
	for _, field := range strings.Fields(s) {
		if !strings.HasPrefix(field, "-") || field == "-" || field == "--" || strings.HasPrefix(field, "---") ||
			strings.HasPrefix(field, "-=") || strings.HasPrefix(field, "--=") {
			return GoFlags{}, fmt.Errorf("parsing $GOFLAGS: non-flag %q", field)
		}
		name, val, _ := strings.Cut(strings.TrimPrefix(field[1:], "-"), "=")
		if !knownGoFlags[name] {
			return GoFlags{}, fmt.Errorf("parsing $GOFLAGS: unknown flag -%s", name)
		}
		switch name {
		case "json":
			f.JSON = isTrue(val)
		case "x":
			f.Trace = isTrue(val)
		case "modcacherw":
			f.ModCacheRW = isTrue(val)
		case "modfile":
			f.ModFile = val
		}
	}
	return f, nil
}

// knownGoFlags are the flags some go command defines: GOFLAGS may name
// any of them (each command ignores those it does not define), and any
// other is an error, as in the go command.
var knownGoFlags = func() map[string]bool {
	m := map[string]bool{}
	for _, n := range strings.Fields(`C a artifacts asan asmflags bench benchmem benchtime
		blockprofile blockprofilerate buildmode buildvcs c cache changed compat compiled
		compiler count cover covermode coverpkg coverprofile cpu cpuprofile d
		debug-actiongraph debug-runtime-trace debug-trace deps diff dropexclude dropgodebug
		dropignore dropreplace droprequire dropretract droptool dropuse e exclude exec
		export f failfast find fix fmt fullpath fuzz fuzzcache fuzzminimizetime fuzztime
		gccgoflags gcflags go godebug i ignore insecure installsuffix json ldflags
		linkshared list m memprofile memprofilerate mod modcache modcacherw modfile module
		msan mutexprofile mutexprofilefraction n o outputdir overlay p parallel pgo pkgdir
		print r race replace require retract retracted reuse run short shuffle skip t tags
		test testcache timeout tool toolchain toolexec trace trimpath u use v vendor
		versions vet w work x`) {
		m[n] = true
	}
	return m
}()

// isTrue reports whether a boolean flag's value (empty when given
// without one) turns it on.
func isTrue(v string) bool { return v == "" || v == "true" || v == "1" }
