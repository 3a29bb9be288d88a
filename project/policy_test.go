package project

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"sync"
	"testing"

	"gomodfetch/policy"
)

// vulnDB lays out a one-entry vulnerability database (example.com/a
// before v1.0.1) and serves it on loopback, counting requests by path.
func vulnDB(t *testing.T) (url string, take func() map[string]int) {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"index/db.json":      `{"modified": "2026-03-04T00:00:00Z"}`,
		"index/modules.json": `[{"path": "example.com/a", "vulns": [{"id": "GO-2026-0042", "modified": "2026-03-01T00:00:00Z", "fixed": "1.0.1"}]}]`,
		"ID/GO-2026-0042.json": `{"id": "GO-2026-0042", "modified": "2026-03-01T00:00:00Z", "summary": "bad a",
			"affected": [{"package": {"name": "example.com/a", "ecosystem": "Go"},
			"ranges": [{"type": "SEMVER", "events": [{"introduced": "0"}, {"fixed": "1.0.1"}]}]}]}`,
	}
	for name, data := range files {
		f := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(f), 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(f, []byte(data), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	var mu sync.Mutex
	count := map[string]int{}
	fs := http.FileServer(http.Dir(dir))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		count[r.URL.Path]++
		mu.Unlock()
		fs.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func() map[string]int {
		mu.Lock()
		defer mu.Unlock()
		c := count
		count = map[string]int{}
		return c
	}
}

// TestDownloadPolicy: a download with a policy fails the version the
// vulnerability database denies, with the decision's message, lands none
// of its files but the go.mod the graph reads, downloads the one it warns
// about, and reports both; the audit finds the same. The database is read
// once per run, and nothing of it is kept on disk (a copy below the
// module cache could not be checked): a second run reads it again.
func TestDownloadPolicy(t *testing.T) {
	url, take := vulnDB(t)
	fx := newFixture(t, map[string]string{
		"go.mod":     requireAB,
		"policy.txt": "vulns deny\nvulndb " + url + "\nwarn example.com/b \"old b\"\n",
	})
	s := fx.settings()
	s.Policy = filepath.Join(fx.dir, "policy.txt")
	ctx := context.Background()

	p := fx.open(t, s)
	res, err := p.Download(ctx, RunHooks{})
	if err != nil {
		t.Fatal(err)
	}
	const msg = "gomodfetch policy: example.com/a@v1.0.0: GO-2026-0042 (denied; fixed in v1.0.1)"
	if got := res.Errors(false, false); !reflect.DeepEqual(got, []string{msg}) || res.ExitStatus() != 1 {
		t.Errorf("errors %q, exit %d; want [%q], 1", got, res.ExitStatus(), msg)
	}
	for _, m := range res.Report.Modules {
		var denied *policy.DeniedError
		if m.Path == "example.com/a" && (!errors.As(m.Err(), &denied) || m.Error != msg || m.Info != "" || m.Zip != "") {
			t.Errorf("a: %+v, err %v", m, m.Err())
		}
	}
	dl := filepath.Join(fx.modCache, "cache", "download", "example.com", "a", "@v")
	for _, name := range []string{"v1.0.0.info", "v1.0.0.zip", "v1.0.0.ziphash"} {
		if _, err := os.Stat(filepath.Join(dl, name)); err == nil {
			t.Errorf("a's %s is in the cache", name)
		}
	}
	if _, err := os.Stat(filepath.Join(fx.modCache, "example.com", "b@v1.1.0", "b.go")); err != nil {
		t.Errorf("b is not in the cache: %v", err)
	}
	var got []string
	for _, d := range p.PolicyFindings(res) {
		got = append(got, d.Message())
	}
	want := []string{msg, "gomodfetch policy: example.com/b@v1.1.0: old b (warning by policy.txt:3)"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("findings %q, want %q", got, want)
	}
	if c := take(); !reflect.DeepEqual(c, map[string]int{"/index/db.json": 1, "/index/modules.json": 1, "/ID/GO-2026-0042.json": 1}) {
		t.Errorf("first run asked the database %v", c)
	}
	if _, err := os.Stat(filepath.Join(fx.modCache, "cache", "gomodfetch", "vulndb")); err == nil {
		t.Errorf("the database was kept below the module cache")
	}

	// The audit, a new project on the same cache: the same findings, the
	// database read again.
	a, err := fx.open(t, s).CheckPolicy(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got = nil
	for _, d := range a.Findings {
		got = append(got, d.Message())
	}
	if !reflect.DeepEqual(got, want) || !a.Denied() || a.Checked != 2 || a.GraphErr != nil {
		t.Errorf("audit: findings %q (want %q), denied %v, checked %d, graph %v", got, want, a.Denied(), a.Checked, a.GraphErr)
	}
	if c := take(); !reflect.DeepEqual(c, map[string]int{"/index/db.json": 1, "/index/modules.json": 1, "/ID/GO-2026-0042.json": 1}) {
		t.Errorf("second run asked the database %v", c)
	}
}

// TestOpenPolicyRefuses: a policy file with a mistake is a PolicyError
// (the command's bad input), and so is one that is not there.
func TestOpenPolicyRefuses(t *testing.T) {
	fx := newFixture(t, map[string]string{"go.mod": requireAB, "bad.txt": "deny example.com/a 1.0.0 \"no\"\n"})
	for _, file := range []string{"bad.txt", "missing.txt"} {
		s := fx.settings()
		s.Policy = filepath.Join(fx.dir, file)
		_, err := Open(context.Background(), s, fx.env(t), Hooks{})
		var pe *PolicyError
		if !errors.As(err, &pe) {
			t.Errorf("%s: Open = %v, want a *PolicyError", file, err)
		}
	}
}
