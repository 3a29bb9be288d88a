package repotest

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"gomodfetch/project"
)

// actionFile is the part of action.yml's schema the test checks.
type actionFile struct {
	Name        string
	Description string
	Author      string
	Branding    struct{ Icon, Color string }
	Inputs      map[string]struct {
		Description string
		Default     *string
		Required    bool
	}
	Outputs map[string]struct {
		Description string
		Value       string
	}
	Runs struct {
		Using string
		Steps []actionStep
	}
}

type actionStep struct {
	Name             string
	ID               string
	If               string
	Uses             string
	Shell            string
	Run              string
	WorkingDirectory string `yaml:"working-directory"`
	Env              map[string]string
	With             map[string]string
}

func readAction(t *testing.T) (*actionFile, string) {
	t.Helper()
	data, err := os.ReadFile("action.yml")
	if err != nil {
		t.Fatal(err)
	}
	var a actionFile
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&a); err != nil {
		t.Fatalf("action.yml: %v", err)
	}
	return &a, string(data)
}

var inputRef = regexp.MustCompile(`inputs\.([A-Za-z0-9_-]+)`)

// TestActionFile checks action.yml's shape: a composite action with a name
// and description, every input documented (in the file and in the README)
// and used, no reference to an input that does not exist, a shell on every
// run step, third-party actions pinned to a major version, and no
// expression inside a script (inputs reach scripts through env, so an input
// cannot inject shell code).
func TestActionFile(t *testing.T) {
	a, text := readAction(t)
	if a.Name == "" || a.Description == "" {
		t.Errorf("action.yml needs a name and a description")
	}
	if a.Runs.Using != "composite" || len(a.Runs.Steps) == 0 {
		t.Fatalf("runs.using = %q with %d steps; want a composite action", a.Runs.Using, len(a.Runs.Steps))
	}
	readme, err := os.ReadFile("README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, runs, _ := strings.Cut(text, "\nruns:")
	used := map[string]bool{}
	for _, m := range inputRef.FindAllStringSubmatch(runs, -1) {
		used[m[1]] = true
	}
	for name, in := range a.Inputs {
		if in.Description == "" {
			t.Errorf("input %s has no description", name)
		}
		if in.Default == nil && !in.Required {
			t.Errorf("input %s has neither a default nor required: true", name)
		}
		if !used[name] {
			t.Errorf("input %s is never used", name)
		}
		if !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("input %s is not documented in README.md", name)
		}
	}
	for name := range used {
		if _, ok := a.Inputs[name]; !ok {
			t.Errorf("inputs.%s is used but not declared", name)
		}
	}
	for name, out := range a.Outputs {
		if out.Description == "" || out.Value == "" {
			t.Errorf("output %s needs a description and a value", name)
		}
	}
	for i, s := range a.Runs.Steps {
		switch {
		case s.Run != "" && s.Uses != "":
			t.Errorf("step %d (%s) has both run and uses", i, s.Name)
		case s.Run != "":
			if s.Shell == "" {
				t.Errorf("step %d (%s): a composite run step needs a shell", i, s.Name)
			}
			if strings.Contains(s.Run, "${{") {
				t.Errorf("step %d (%s): expression inside the script; pass it through env", i, s.Name)
			}
		case s.Uses != "":
			if !regexp.MustCompile(`^[\w.-]+/[\w.-]+@v\d+$`).MatchString(s.Uses) {
				t.Errorf("step %d (%s): uses %q; want owner/name@vN", i, s.Name, s.Uses)
			}
		default:
			t.Errorf("step %d (%s) has neither run nor uses", i, s.Name)
		}
	}
}

// TestActionSteps runs the action's shell steps locally, as the runner
// would (inputs, github.action_path and step outputs substituted;
// GITHUB_PATH, GITHUB_OUTPUT and RUNNER_TEMP as files and a directory), on
// a service whose module comes from a loopback proxy. actions/cache is not
// run: the cache starts empty, as on a miss. A second run with cache: true
// finds a damaged module directory (as a bad restore would leave it) and
// must notice it with gomodfetch verify and fetch it again, and prune a
// version the project does not need.
func TestActionSteps(t *testing.T) {
	if testing.Short() {
		t.Skip("builds gomodfetch")
	}
	a, _ := readAction(t)
	repo, _ := os.Getwd()
	workspace := t.TempDir()
	srv, _ := serviceProject(t, workspace)
	modCache := filepath.Join(t.TempDir(), "modcache")
	runnerTemp := t.TempDir()
	summary := filepath.Join(runnerTemp, "step_summary.md")

	inputs := map[string]string{}
	for name, in := range a.Inputs {
		if in.Default != nil {
			inputs[name] = *in.Default
		}
	}
	inputs["working-directory"] = "svc"
	inputs["jobs"] = "4"
	inputs["timeout"] = "5m"

	run := func(inputs map[string]string) string {
		t.Helper()
		outputs := map[string]map[string]string{}
		var path []string
		var log strings.Builder
		for i, s := range a.Runs.Steps {
			if s.If != "" && !evalIf(t, s.If, inputs) {
				continue
			}
			if s.Uses != "" {
				if !strings.HasPrefix(s.Uses, "actions/cache@") || s.If == "" {
					t.Fatalf("step %d (%s): only an optional actions/cache step is expected", i, s.Name)
				}
				continue // a cache miss
			}
			expand := func(v string) string { return expandExpr(t, v, inputs, outputs, repo) }
			ghPath := filepath.Join(runnerTemp, "github_path")
			ghOut := filepath.Join(runnerTemp, "github_output")
			os.WriteFile(ghPath, nil, 0o666)
			os.WriteFile(ghOut, nil, 0o666)
			env := append(dockerEnv(t.TempDir(), "/nonexistent/go"),
				"PATH="+strings.Join(append(path, os.Getenv("PATH")), string(os.PathListSeparator)),
				"GOMODCACHE="+modCache, "GOPROXY="+srv.URL,
				"GITHUB_PATH="+ghPath, "GITHUB_OUTPUT="+ghOut, "RUNNER_TEMP="+runnerTemp,
				"GITHUB_STEP_SUMMARY="+summary)
			for k, v := range s.Env {
				env = append(env, k+"="+expand(v))
			}
			dir := workspace
			if s.WorkingDirectory != "" {
				dir = filepath.Join(workspace, expand(s.WorkingDirectory))
			}
			cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", s.Run)
			cmd.Dir, cmd.Env = dir, env
			out, err := cmd.CombinedOutput()
			log.Write(out)
			if err != nil {
				t.Fatalf("step %d (%s): %v\n%s", i, s.Name, err, out)
			}
			if p, _ := os.ReadFile(ghPath); len(p) > 0 {
				path = append(strings.Fields(string(p)), path...)
			}
			if s.ID != "" {
				outputs[s.ID] = map[string]string{}
				o, _ := os.ReadFile(ghOut)
				for _, l := range strings.Split(string(o), "\n") {
					if k, v, ok := strings.Cut(l, "="); ok {
						outputs[s.ID][k] = v
					}
				}
			}
		}
		if got := outputs["paths"]["modcache"]; got != modCache {
			t.Errorf("paths step found the module cache at %q; want %q", got, modCache)
		}
		return log.String()
	}

	run(inputs)
	// Building gomodfetch read its vendor/ tree: nothing of its own
	// dependencies is in the module cache.
	if _, err := os.Stat(filepath.Join(modCache, "github.com")); err == nil {
		t.Errorf("building gomodfetch put its dependencies in the module cache %s", modCache)
	}
	aGo := filepath.Join(modCache, "example.com", "a@v1.0.0", "a.go")
	data, err := os.ReadFile(aGo)
	if err != nil {
		t.Fatalf("the action did not download the module: %v", err)
	}
	// The job page's summary: totals, the proxy's row, the module.
	md, _ := os.ReadFile(summary)
	t.Logf("step summary:\n%s", md)
	for _, want := range []string{
		"### gomodfetch\n",
		"✅ **1 modules**: 1 downloaded, 0 from the cache, 0 failed · ",
		"| " + srv.URL + " | ",
		"| `example.com/a@v1.0.0` | " + srv.URL + " | ",
	} {
		if !strings.Contains(string(md), want) {
			t.Errorf("step summary lacks %q:\n%s", want, md)
		}
	}

	// A damaged directory, as a bad cache restore could leave it.
	if err := os.WriteFile(aGo, []byte("package a // damaged\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	// A version the project does not need, as a restore key's older
	// cache would hold: the prune before the save removes it.
	junk := filepath.Join(modCache, "example.com", "old@v0.9.0")
	if err := os.MkdirAll(junk, 0o777); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(junk, "old.go"), []byte("package old\n"), 0o444); err != nil {
		t.Fatal(err)
	}
	inputs["cache"] = "true"
	log := run(inputs)
	if _, err := os.Stat(junk); err == nil || !strings.Contains(log, "gomodfetch: removed 1 version of 1 module") {
		t.Errorf("the cache was not pruned (%s: %v):\n%s", junk, err, log)
	}
	if !strings.Contains(log, "::warning title=gomodfetch::the restored module cache failed gomodfetch verify") {
		t.Errorf("a damaged cache was not reported:\n%s", log)
	}
	if again, _ := os.ReadFile(aGo); string(again) != string(data) {
		t.Errorf("the damaged module was not downloaded again: %q", again)
	}
}

var exprRef = regexp.MustCompile(`\$\{\{\s*([^}]*?)\s*\}\}`)

// expandExpr substitutes the expressions the action uses in env and
// working-directory values.
func expandExpr(t *testing.T, s string, inputs map[string]string, outputs map[string]map[string]string, actionPath string) string {
	return exprRef.ReplaceAllStringFunc(s, func(m string) string {
		e := exprRef.FindStringSubmatch(m)[1]
		switch {
		case strings.HasPrefix(e, "inputs."):
			return inputs[strings.TrimPrefix(e, "inputs.")]
		case e == "github.action_path":
			return actionPath
		case strings.HasPrefix(e, "steps."):
			f := strings.Split(e, ".")
			if len(f) == 4 && f[2] == "outputs" {
				return outputs[f[1]][f[3]]
			}
		}
		t.Fatalf("expression %q is not simulated", e)
		return ""
	})
}

// evalIf evaluates the conditions the action uses: inputs.NAME == 'value'
// and != 'value', joined by &&.
func evalIf(t *testing.T, cond string, inputs map[string]string) bool {
	cmp := regexp.MustCompile(`^inputs\.([\w-]+)\s*(==|!=)\s*'([^']*)'$`)
	for _, c := range strings.Split(cond, "&&") {
		m := cmp.FindStringSubmatch(strings.TrimSpace(c))
		if m == nil {
			t.Fatalf("condition %q is not simulated", cond)
		}
		if (inputs[m[1]] == m[3]) != (m[2] == "==") {
			return false
		}
	}
	return true
}

// TestActionDefaults: an input that stands for a gomodfetch flag has the
// flag's default, so the Action and the command line behave alike.
func TestActionDefaults(t *testing.T) {
	a, _ := readAction(t)
	d := project.Defaults()
	for input, want := range map[string]string{
		"jobs":            strconv.Itoa(d.Jobs),
		"retries":         strconv.Itoa(d.Retries),
		"timeout":         d.Timeout.String(),
		"stall-timeout":   d.StallTimeout.String(),
		"connect-timeout": d.ConnectTimeout.String(),
		"header-timeout":  d.HeaderTimeout.String(),
	} {
		in, ok := a.Inputs[input]
		if !ok || in.Default == nil {
			t.Errorf("input %s: missing, or without a default", input)
			continue
		}
		got := *in.Default
		if dur, err := time.ParseDuration(got); err == nil {
			got = dur.String()
		}
		if got != want {
			t.Errorf("input %s: default %q, but the flag's is %q", input, *in.Default, want)
		}
	}
}
