package gocmd

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"golang.org/x/mod/module"
)

func TestDirectNoGoCommand(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	d := &Runner{}
	mod := module.Version{Path: "github.com/corp/lib", Version: "v1.0.0"}
	_, err := d.Download(context.Background(), mod, nil)
	var nf *NotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("Download with no go on $PATH: %v; want *NotFoundError", err)
	}
	if msg := err.Error(); !strings.Contains(msg, "github.com/corp/lib@v1.0.0") || !strings.Contains(msg, "needs the go command") {
		t.Errorf("error %q does not name the module and the missing go command", msg)
	}
}

func TestDirectEnv(t *testing.T) {
	tests := []struct {
		name, goflags, want string
	}{
		{name: "kept", goflags: "-modcacherw -x", want: "GOFLAGS=-modcacherw -x"},
		{name: "module flags dropped", goflags: "-modfile=alt.mod -mod=mod -modcacherw", want: "GOFLAGS=-modcacherw"},
		{name: "only module flags", goflags: "-mod=vendor", want: "GOFLAGS=-modcacherw=false"},
		{name: "empty", goflags: "", want: "GOFLAGS="},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := directEnv([]string{"HOME=/h", "GOWORK=/w/go.work", "GOFLAGS=-x"}, tt.goflags)
			want := []string{"HOME=/h", "GOWORK=off", tt.want}
			if !slices.Equal(env, want) {
				t.Errorf("directEnv = %q; want %q", env, want)
			}
		})
	}
}

func TestClassifyGoReport(t *testing.T) {
	tests := []struct {
		msg       string
		transient bool
	}{
		{"github.com/x/y@v1.0.0: invalid version: unknown revision v1.0.0", false},
		{"git fetch: fatal: unable to access: Connection reset by peer; connection reset", true},
		{"reading https://proxy/x/@v/v1.0.0.zip: 503 Service Unavailable", true},
		{"verifying x@v1.0.0: checksum mismatch ... SECURITY ERROR ... timeout", false},
	}
	for _, tt := range tests {
		if got := classifyGoReport(tt.msg).String() == "transient"; got != tt.transient {
			t.Errorf("classifyGoReport(%q) transient = %v; want %v", tt.msg, got, tt.transient)
		}
	}
}

func TestErrorKinds(t *testing.T) {
	tests := []struct {
		msg                string
		notFound, mismatch bool
	}{
		{"corp.example/a@v9.0.0: invalid version: unknown revision v9.0.0", true, false},
		{`module corp.example: unrecognized import path "corp.example": reading http://corp.example?go-get=1: 404 Not Found`, true, false},
		{"corp.example/a@v1.0.0: verifying corp.example/a@v1.0.0: checksum mismatch", false, true},
		{"corp.example/a: git ls-remote: fatal: could not read Username: terminal prompts disabled", false, false},
	}
	for _, tt := range tests {
		e := &Error{Msg: tt.msg}
		if e.NotFound() != tt.notFound || e.ChecksumMismatch() != tt.mismatch {
			t.Errorf("%q: NotFound %v, ChecksumMismatch %v; want %v, %v", tt.msg, e.NotFound(), e.ChecksumMismatch(), tt.notFound, tt.mismatch)
		}
	}
}

// TestEnter: every run waits for its turn, named by the module path's
// host, and gives it back when it is over, failed or not.
func TestEnter(t *testing.T) {
	var hosts []string
	held := 0
	d := &Runner{
		GoBin: t.TempDir() + "/no-go", // every run fails at once
		Enter: func(ctx context.Context, host string) (func(), error) {
			hosts = append(hosts, host)
			held++
			return func() { held-- }, nil
		},
	}
	ctx := context.Background()
	d.Versions(ctx, "corp.example/a")
	d.Resolve(ctx, "git.corp.example/b", "latest", nil)
	d.Download(ctx, module.Version{Path: "corp.example/c", Version: "v1.0.0"}, nil)
	d.GoMod(ctx, module.Version{Path: "corp.example/d", Version: "v1.0.0"}, nil)
	if want := []string{"corp.example", "git.corp.example", "corp.example", "corp.example"}; !slices.Equal(hosts, want) {
		t.Errorf("Enter called for %q; want %q", hosts, want)
	}
	if held != 0 {
		t.Errorf("%d turns not given back", held)
	}
}
