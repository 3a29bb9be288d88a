package main

import (
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"testing"
)

func TestVersionText(t *testing.T) {
	tests := []struct {
		name string
		info *debug.BuildInfo
		want []string // substrings, in order
		not  string
	}{
		{
			name: "go install at a version",
			info: &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "gomodfetch", Version: "v1.2.3"}},
			want: []string{"gomodfetch v1.2.3 go1.26.0 "},
			not:  "commit",
		},
		{
			name: "built from a modified checkout",
			info: &debug.BuildInfo{GoVersion: "go1.26.0", Main: debug.Module{Path: "gomodfetch", Version: "(devel)"}, Settings: []debug.BuildSetting{
				{Key: "vcs.revision", Value: "0123abcd"}, {Key: "vcs.time", Value: "2025-01-02T03:04:05Z"}, {Key: "vcs.modified", Value: "true"},
			}},
			want: []string{"gomodfetch (devel) go1.26.0 ", "\ncommit 0123abcd (2025-01-02T03:04:05Z), modified"},
		},
		{
			name: "no build information",
			want: []string{"gomodfetch (unknown version) "},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := versionText(tt.info)
			rest := got
			for _, w := range tt.want {
				i := strings.Index(rest, w)
				if i < 0 {
					t.Fatalf("versionText = %q; want it to contain %q", got, w)
				}
				rest = rest[i+len(w):]
			}
			if tt.not != "" && strings.Contains(got, tt.not) {
				t.Errorf("versionText = %q; want no %q", got, tt.not)
			}
		})
	}
}

// TestRunKeepsWorkingDirectory: -C does not change the process's working
// directory, so run can be called again in the same process (as the tests
// and a long-lived front end do) and relative paths keep their meaning.
func TestRunKeepsWorkingDirectory(t *testing.T) {
	wd, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	root := t.TempDir()
	for _, name := range []string{"a", "b"} {
		dir := filepath.Join(root, name)
		if err := os.MkdirAll(dir, 0o777); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/"+name+"\n\ngo 1.22\n"), 0o666); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("GOMODCACHE", filepath.Join(root, "modcache"))
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOFLAGS", "")
	rel, err := filepath.Rel(wd, filepath.Join(root, "b"))
	if err != nil {
		t.Fatal(err)
	}
	for _, dir := range []string{filepath.Join(root, "a"), rel} {
		var stdout, stderr strings.Builder
		if code := run([]string{"gomodfetch", "-C", dir}, &stdout, &stderr); code != 0 {
			t.Fatalf("run -C %s: exit %d\n%s", dir, code, stderr.String())
		}
		if !strings.Contains(stderr.String(), "no module dependencies to download") {
			t.Errorf("run -C %s: stderr %q; want go's note for a module without requirements", dir, stderr.String())
		}
		if now, _ := os.Getwd(); now != wd {
			t.Fatalf("run -C %s changed the working directory to %s", dir, now)
		}
	}
}
