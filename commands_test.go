package main

import (
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
