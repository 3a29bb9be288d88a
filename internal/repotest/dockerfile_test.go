package repotest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/goproxytest"
	"github.com/rogpeppe/go-internal/txtar"
)

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	line int
	cmd  string // upper case: FROM, RUN, COPY, …
	args string
}

// parseDockerfile reads the instructions of a Dockerfile: comment lines
// (also inside a continued instruction) are dropped, lines ending in a
// backslash are joined.
func parseDockerfile(text string) ([]instruction, error) {
	var (
		out  []instruction
		cur  strings.Builder
		at   int
		cont bool
	)
	for i, l := range strings.Split(text, "\n") {
		t := strings.TrimSpace(l)
		if strings.HasPrefix(t, "#") || t == "" && !cont {
			continue
		}
		if !cont {
			at = i + 1
		}
		more := strings.HasSuffix(t, "\\")
		t = strings.TrimSuffix(t, "\\")
		cur.WriteString(t + " ")
		cont = more
		if more {
			continue
		}
		s := strings.TrimSpace(cur.String())
		cur.Reset()
		cmd, args, _ := strings.Cut(s, " ")
		out = append(out, instruction{line: at, cmd: strings.ToUpper(cmd), args: strings.TrimSpace(args)})
	}
	if cont {
		return nil, fmt.Errorf("instruction at line %d ends in a continuation", at)
	}
	return out, nil
}

// runOptions splits a RUN instruction's --mount options from its shell
// command and returns the cache mounts' targets.
func runOptions(args string) (mounts []string, shell string, err error) {
	for strings.HasPrefix(args, "--") {
		opt, rest, _ := strings.Cut(args, " ")
		args = strings.TrimSpace(rest)
		val, ok := strings.CutPrefix(opt, "--mount=")
		if !ok {
			return nil, "", fmt.Errorf("unknown RUN option %s", opt)
		}
		kv := map[string]string{}
		for _, f := range strings.Split(val, ",") {
			k, v, _ := strings.Cut(f, "=")
			kv[k] = v
		}
		if kv["type"] != "cache" {
			return nil, "", fmt.Errorf("mount %s: only cache mounts are simulated", val)
		}
		switch kv["sharing"] {
		case "", "shared", "locked", "private":
		default:
			return nil, "", fmt.Errorf("mount %s: bad sharing mode", val)
		}
		mounts = append(mounts, kv["target"])
	}
	if strings.HasPrefix(args, "[") {
		return nil, "", fmt.Errorf("exec form is not simulated: %s", args)
	}
	return mounts, args, nil
}

// TestDockerfileExample runs Dockerfile.example without a container engine:
// each stage gets a root directory, COPY copies files, and every RUN line's
// shell command runs in its WORKDIR with absolute paths moved under the
// stage root and each cache mount mapped to a temporary directory (through
// GOMODCACHE and GOCACHE). The service is a scratch module whose one
// dependency comes from a loopback proxy; gomodfetch is built from this
// checkout by the Dockerfile's own first stage, offline (its dependencies
// are vendored). Then the one-line variant in the comments runs against a
// fresh cache. TestDockerBuild builds the same file under a real BuildKit.
func TestDockerfileExample(t *testing.T) {
	if testing.Short() {
		t.Skip("builds gomodfetch and a service")
	}
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	text, err := os.ReadFile("Dockerfile.example")
	if err != nil {
		t.Fatal(err)
	}
	instrs, err := parseDockerfile(string(text))
	if err != nil {
		t.Fatal(err)
	}
	repo, _ := os.Getwd()
	tmp := t.TempDir()
	srv, service := serviceProject(t, tmp)
	modCacheMount := filepath.Join(tmp, "cache-mount", "go-pkg-mod")

	contexts := map[string]string{"": service, "gomodfetch-src": repo}
	stages := map[string]string{}
	globalArgs := map[string]string{} // ARGs before the first FROM
	var stageArgs []string            // the stage's ARGs, as RUN sees them
	var root, wd, stage string
	n := 0
	for _, in := range instrs {
		where := fmt.Sprintf("Dockerfile.example:%d: %s", in.line, in.cmd)
		switch in.cmd {
		case "FROM":
			n++
			f := strings.Fields(os.Expand(in.args, func(k string) string { return globalArgs[k] }))
			stage = fmt.Sprint(n)
			if len(f) == 3 && strings.EqualFold(f[1], "AS") {
				stage = f[2]
			}
			stageArgs = nil
			if src, ok := contexts[f[0]]; ok {
				// A stage whose base is a build context: its files.
				stages[stage] = src
				root = src
				continue
			}
			root = filepath.Join(tmp, "stage-"+stage)
			stages[stage] = root
			wd = root
			os.MkdirAll(root, 0o777)
		case "ARG":
			k, v, _ := strings.Cut(in.args, "=")
			if n == 0 {
				globalArgs[k] = v
				continue
			}
			switch k {
			case "GOPROXY":
				// Set below, to the test's proxy.
			case "GOMODFETCH_FLAGS", "GOMODFETCH_TAGS":
				stageArgs = append(stageArgs, k+"="+v)
			default:
				t.Fatalf("%s: ARG %s is not simulated", where, k)
			}
		case "WORKDIR":
			wd = filepath.Join(root, in.args)
			os.MkdirAll(wd, 0o777)
		case "COPY":
			f := strings.Fields(in.args)
			from := contexts[""]
			if v, ok := strings.CutPrefix(f[0], "--from="); ok {
				f = f[1:]
				if from, ok = contexts[v]; !ok {
					if from, ok = stages[v]; !ok {
						t.Fatalf("%s: unknown stage or context %s", where, v)
					}
				}
			}
			dst := f[len(f)-1]
			if !filepath.IsAbs(dst) {
				dst = filepath.Join(wd, dst)
			} else {
				dst = filepath.Join(root, dst)
			}
			for _, src := range f[:len(f)-1] {
				copyPath(t, filepath.Join(from, src), dst, len(f) > 2 || strings.HasSuffix(f[len(f)-1], "/"))
			}
		case "RUN":
			mounts, shell, err := runOptions(in.args)
			if err != nil {
				t.Fatalf("%s: %v", where, err)
			}
			env := dockerEnv(root, goBin)
			env = append(env, "GOMODCACHE="+filepath.Join(root, "go/pkg/mod"))
			env = append(env, stageArgs...)
			for _, m := range mounts {
				switch m {
				case "/go/pkg/mod":
					env = append(env, "GOMODCACHE="+modCacheMount)
				case "/root/.cache/go-build":
					// The build cache is content-addressed: the test's
					// own is as good as an empty one, and faster.
					env = append(env, "GOCACHE="+goEnvValue(t, "GOCACHE"))
				default:
					t.Fatalf("%s: no mapping for cache mount target %s", where, m)
				}
			}
			if stage == "gomodfetch" {
				// gomodfetch's own dependencies are vendored: its RUN
				// line sets GOPROXY=off, and no proxy is given here.
				env = append(env, "GOPROXY=off")
			} else {
				env = append(env, "GOPROXY="+srv.URL)
			}
			runShell(t, where, wd, env, rootPaths(shell, root))
		case "ENTRYPOINT":
			// Checked below: the final stage's /app runs.
		default:
			t.Fatalf("%s: not simulated", where)
		}
	}

	// The final image holds the service, and the service runs.
	out, err := exec.Command(filepath.Join(root, "app")).CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "hello from a" {
		t.Fatalf("the built service: %v\n%s", err, out)
	}

	// The one-line variant, with gomodfetch from stage 1 on PATH.
	var oneLine string
	for _, l := range strings.Split(string(text), "\n") {
		if s, ok := strings.CutPrefix(l, "# RUN "); ok {
			oneLine = s
		}
	}
	if oneLine == "" {
		t.Fatal("Dockerfile.example has no one-line variant (a comment line \"# RUN …\")")
	}
	mounts, shell, err := runOptions(oneLine)
	if err != nil || len(mounts) != 1 || mounts[0] != "/go/pkg/mod" {
		t.Fatalf("one-line variant: mounts %v, %v; want the module cache", mounts, err)
	}
	dir := filepath.Join(tmp, "oneline")
	os.MkdirAll(dir, 0o777)
	copyPath(t, filepath.Join(service, "go.mod"), dir, true)
	copyPath(t, filepath.Join(service, "go.sum"), dir, true)
	cache := filepath.Join(tmp, "cache-mount", "oneline")
	env := append(dockerEnv(stages["build"], goBin), "GOMODCACHE="+cache, "GOPROXY="+srv.URL)
	runShell(t, "one-line variant", dir, env, shell)
	if _, err := os.Stat(filepath.Join(cache, "example.com", "a@v1.0.0", "a.go")); err != nil {
		t.Fatalf("one-line variant did not fill the cache mount: %v", err)
	}
}

// dockerEnv is the environment of a RUN line in a golang image whose
// root is root: its /usr/local/bin first on PATH, then the go command.
func dockerEnv(root, goBin string) []string {
	var env []string
	for _, kv := range os.Environ() {
		switch k, _, _ := strings.Cut(kv, "="); k {
		case "PATH", "GOFLAGS", "GOPROXY", "GOMODCACHE", "GOPATH", "GOWORK", "GONOSUMDB", "GOPRIVATE", "GONOPROXY", "GOENV":
		default:
			env = append(env, kv)
		}
	}
	return append(env,
		"PATH="+filepath.Join(root, "usr/local/bin")+string(os.PathListSeparator)+filepath.Dir(goBin)+string(os.PathListSeparator)+"/usr/bin:/bin",
		"GOPATH="+filepath.Join(root, "go"),
		"GOENV=off",
		"GOFLAGS=-modcacherw", // so that the test can remove the caches
		"GOSUMDB=off",         // go.sum has every line; nothing to look up
		"GOTOOLCHAIN=local",
		"GOWORK=off",
	)
}

var absPath = regexp.MustCompile(`(^|\s)(/[\w./-]+)`)

// rootPaths moves the absolute paths in a shell command under root.
func rootPaths(shell, root string) string {
	return absPath.ReplaceAllString(shell, "${1}"+filepath.ToSlash(root)+"${2}")
}

func runShell(t *testing.T, where, dir string, env []string, shell string) {
	t.Helper()
	cmd := exec.Command("/bin/sh", "-c", shell)
	cmd.Dir, cmd.Env = dir, env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s: sh -c %q: %v\n%s", where, shell, err, out)
	}
	t.Logf("%s: %s\n%s", where, shell, out)
}

// copyPath copies src (a file or a tree, without .git) to dst: into dst
// when intoDir, else as dst.
func copyPath(t *testing.T, src, dst string, intoDir bool) {
	t.Helper()
	fi, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	if !fi.IsDir() {
		if intoDir {
			dst = filepath.Join(dst, filepath.Base(src))
		}
		data, err := os.ReadFile(src)
		if err != nil {
			t.Fatal(err)
		}
		os.MkdirAll(filepath.Dir(dst), 0o777)
		if err := os.WriteFile(dst, data, fi.Mode().Perm()|0o200); err != nil {
			t.Fatal(err)
		}
		return
	}
	err = filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		if d.Name() == ".git" {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil // a worktree's .git file
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o777)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), data, 0o666)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func goEnvValue(t *testing.T, key string) string {
	t.Helper()
	out, err := exec.Command("go", "env", key).Output()
	if err != nil {
		t.Fatalf("go env %s: %v", key, err)
	}
	return strings.TrimSpace(string(out))
}

// serviceArchive is a service that needs one module from the proxy.
const serviceArchive = `
-- proxy/example.com_a_v1.0.0/.mod --
module example.com/a

go 1.21
-- proxy/example.com_a_v1.0.0/.info --
{"Version":"v1.0.0","Time":"2023-01-02T03:04:05Z"}
-- proxy/example.com_a_v1.0.0/go.mod --
module example.com/a

go 1.21
-- proxy/example.com_a_v1.0.0/a.go --
package a

func Hello() string { return "hello from a" }
-- svc/go.mod --
module example.com/svc

go 1.22

require example.com/a v1.0.0
-- svc/main.go --
package main

import (
	"fmt"

	"example.com/a"
)

func main() { fmt.Println(a.Hello()) }
`

// serviceProject writes the service and starts its proxy; go.sum is
// written from the real go command's report.
func serviceProject(t *testing.T, tmp string) (*goproxytest.Server, string) {
	t.Helper()
	ar := txtar.Parse([]byte(serviceArchive))
	for _, f := range ar.Files {
		p := filepath.Join(tmp, f.Name)
		os.MkdirAll(filepath.Dir(p), 0o777)
		if err := os.WriteFile(p, f.Data, 0o666); err != nil {
			t.Fatal(err)
		}
	}
	srv, err := goproxytest.NewServer(filepath.Join(tmp, "proxy"), "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	cmd := exec.Command("go", "mod", "download", "-json", "example.com/a@v1.0.0")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "GOPROXY="+srv.URL, "GOMODCACHE="+filepath.Join(tmp, "oracle-cache"), "GOFLAGS=-modcacherw", "GOSUMDB=off", "GOWORK=off", "GOTOOLCHAIN=local")
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go mod download: %v", err)
	}
	var m struct{ Sum, GoModSum string }
	if err := json.Unmarshal(out, &m); err != nil {
		t.Fatal(err)
	}
	var sum bytes.Buffer
	fmt.Fprintf(&sum, "example.com/a v1.0.0 %s\nexample.com/a v1.0.0/go.mod %s\n", m.Sum, m.GoModSum)
	svc := filepath.Join(tmp, "svc")
	if err := os.WriteFile(filepath.Join(svc, "go.sum"), sum.Bytes(), 0o666); err != nil {
		t.Fatal(err)
	}
	return srv, svc
}
