package resolver

import (
	"context"
	"fmt"
	"io/fs"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
)

// fakeVersions serves one module's version list, go.mod files and
// @latest answer, and counts what it was asked.
type fakeVersions struct {
	fakeSource
	list   map[string][]string
	latest map[string]string
	stats  []string
}

func (s *fakeVersions) Versions(_ context.Context, path string) ([]string, error) {
	l, ok := s.list[path]
	if !ok {
		return nil, fmt.Errorf("%s: list: %w", path, fs.ErrNotExist)
	}
	return append([]string(nil), l...), nil
}

func (s *fakeVersions) Latest(_ context.Context, path string) (string, time.Time, error) {
	if v, ok := s.latest[path]; ok {
		return v, time.Time{}, nil
	}
	return "", time.Time{}, fmt.Errorf("%s: @latest: %w", path, fs.ErrNotExist)
}

func (s *fakeVersions) Stat(_ context.Context, path, query string) (string, time.Time, error) {
	s.mu.Lock()
	s.stats = append(s.stats, query)
	s.mu.Unlock()
	if module.CanonicalVersion(query) == query {
		return query, time.Time{}, nil // any tagged or pseudo-version exists here
	}
	if v, ok := s.latest[path]; ok && (v == query || strings.HasSuffix(v, "-"+query)) {
		return v, time.Time{}, nil
	}
	return "", time.Time{}, fmt.Errorf("%s@%s: %w", path, query, fs.ErrNotExist)
}

func TestQuery(t *testing.T) {
	const q = "example.com/q"
	plain := "module example.com/q\n\ngo 1.21\n"
	tests := []struct {
		name    string
		list    []string
		mods    map[string]string // version → go.mod (default: plain)
		latest  string            // @latest answer
		query   string
		current string
		exclude string // excluded version of q
		want    string
		wantErr string
	}{
		{name: "latest prefers releases", list: []string{"v1.0.0", "v1.1.0", "v1.2.0-pre"}, query: "latest", want: "v1.1.0"},
		{name: "latest takes a pre-release when there is no release", list: []string{"v0.1.0-a", "v0.1.0-b"}, query: "latest", want: "v0.1.0-b"},
		{
			name: "latest skips versions retracted by the latest go.mod", list: []string{"v1.0.0", "v1.1.0", "v1.2.0"},
			mods:  map[string]string{"v1.2.0": plain + "retract [v1.1.0, v1.2.0]\n"},
			query: "latest", want: "v1.0.0",
		},
		{
			name: "an exact version may be retracted", list: []string{"v1.0.0", "v1.1.0"},
			mods:  map[string]string{"v1.1.0": plain + "retract v1.1.0\n"},
			query: "v1.1.0", want: "v1.1.0",
		},
		{name: "latest skips excluded versions", list: []string{"v1.0.0", "v1.1.0"}, exclude: "v1.1.0", query: "latest", want: "v1.0.0"},
		{name: "no tagged versions: @latest", list: []string{}, latest: "v0.0.0-20230102030405-abcdefabcdef", query: "latest", want: "v0.0.0-20230102030405-abcdefabcdef"},
		{name: "nothing at all", list: []string{}, query: "latest", wantErr: `no matching versions for query "latest"`},
		{name: "upgrade never downgrades", list: []string{"v1.0.0", "v1.1.0"}, query: "upgrade", current: "v1.2.0-pre", want: "v1.2.0-pre"},
		{name: "upgrade to a higher release", list: []string{"v1.0.0", "v1.1.0"}, query: "upgrade", current: "v1.0.0", want: "v1.1.0"},
		{name: "patch stays within minor", list: []string{"v1.0.0", "v1.0.3", "v1.1.0"}, query: "patch", current: "v1.0.1", want: "v1.0.3"},
		{name: "patch needs a current version", list: []string{"v1.0.0"}, query: "patch", current: "none", wantErr: "no existing version is required"},
		{name: "prefix", list: []string{"v1.2.0", "v1.2.9", "v1.3.0"}, query: "v1.2", want: "v1.2.9"},
		{name: "prefix excludes pre-releases below it", list: []string{"v1.3.0-pre"}, query: "v1.3", wantErr: `no matching versions for query "v1.3"`},
		{name: "range prefers lower", list: []string{"v1.0.0", "v1.1.0", "v1.2.0"}, query: ">=v1.1.0", want: "v1.1.0"},
		{name: "range below", list: []string{"v1.0.0", "v1.1.0", "v1.2.0"}, query: "<v1.2.0", want: "v1.1.0"},
		{name: "ambiguous range", list: []string{"v1.0.0"}, query: "<=v1.2", wantErr: "ambiguous semantic version"},
		{name: "revision", list: []string{"v1.0.0"}, latest: "v0.0.0-20230102030405-abcdefabcdef", query: "abcdefabcdef", want: "v0.0.0-20230102030405-abcdefabcdef"},
		{
			name: "incompatible skipped after a compatible go.mod", list: []string{"v1.0.0", "v2.0.0+incompatible"},
			query: "latest", want: "v1.0.0",
		},
		{
			name: "incompatible kept for a legacy module", list: []string{"v1.0.0", "v2.0.0+incompatible"},
			mods:  map[string]string{"v1.0.0": "module example.com/q\n"},
			query: "latest", want: "v2.0.0+incompatible",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &fakeVersions{
				fakeSource: fakeSource{mods: map[module.Version]string{}, asked: map[module.Version]int{}},
				list:       map[string][]string{q: tt.list},
				latest:     map[string]string{},
			}
			if tt.latest != "" {
				src.latest[q] = tt.latest
			}
			for _, v := range tt.list {
				text, ok := tt.mods[v]
				if !ok {
					text = plain
				}
				src.mods[module.Version{Path: q, Version: v}] = text
			}
			text := "module example.com/main\n\ngo 1.21\n"
			if tt.exclude != "" {
				text += "exclude example.com/q " + tt.exclude + "\n"
			}
			main, err := ParseMain("/m", "/m/go.mod", []byte(text))
			if err != nil {
				t.Fatal(err)
			}
			got, _, err := newQuerier(src, main).query(context.Background(), q, tt.query, tt.current, !isRevisionQuery(tt.query))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("query %s = %q, %v; want error %q", tt.query, got, err, tt.wantErr)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("query %s = %q, %v; want %q", tt.query, got, err, tt.want)
			}
		})
	}
}

func TestResolveQueriesReportsQuery(t *testing.T) {
	src := &fakeVersions{
		fakeSource: fakeSource{mods: map[module.Version]string{
			{Path: "example.com/q", Version: "v1.0.0"}: "module example.com/q\n",
			{Path: "example.com/q", Version: "v1.1.0"}: "module example.com/q\n",
		}, asked: map[module.Version]int{}},
		list: map[string][]string{"example.com/q": {"v1.0.0", "v1.1.0"}},
	}
	p, err := NewPlan(nil, []string{"example.com/q@latest", "example.com/q@v1.0.0", "example.com/q@v1.1", "example.com/q@v9"})
	if err != nil {
		t.Fatal(err)
	}
	p.ResolveQueries(context.Background(), src, nil, 16)
	var got []string
	for _, tg := range p.Targets {
		s := fmt.Sprintf("%s %s q=%s explicit=%v", tg.Path, tg.Version, tg.Query, tg.Explicit)
		if tg.Err != nil {
			s += " err=" + tg.Err.Error()
		}
		got = append(got, s)
	}
	want := []string{
		"example.com/q v1.1.0 q=latest explicit=false",
		"example.com/q v1.0.0 q= explicit=true",
		"example.com/q v1.1.0 q=v1.1 explicit=false",
		`example.com/q v9 q= explicit=false err=module example.com/q: no matching versions for query "v9"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("targets:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

func TestQueryAsksForTheListOnce(t *testing.T) {
	src := &countingVersions{fakeVersions: fakeVersions{
		fakeSource: fakeSource{mods: map[module.Version]string{
			{Path: "example.com/q", Version: "v1.0.0"}: "module example.com/q\n\ngo 1.21\n",
			{Path: "example.com/q", Version: "v1.1.0"}: "module example.com/q\n\ngo 1.21\n\nretract v1.1.0\n",
		}, asked: map[module.Version]int{}},
		list: map[string][]string{"example.com/q": {"v1.1.0", "v1.0.0"}},
	}}
	q := newQuerier(src, nil)
	for _, query := range []string{"latest", "v1", "upgrade"} {
		v, _, err := q.query(context.Background(), "example.com/q", query, "", true)
		if err != nil || v != "v1.0.0" {
			t.Fatalf("%s: %q, %v; want v1.0.0 (v1.1.0 is retracted)", query, v, err)
		}
	}
	if src.lists != 1 {
		t.Errorf("version list asked %d times, want 1", src.lists)
	}
}

type countingVersions struct {
	fakeVersions
	lists int
}

func (s *countingVersions) Versions(ctx context.Context, path string) ([]string, error) {
	s.mu.Lock()
	s.lists++
	s.mu.Unlock()
	return s.fakeVersions.Versions(ctx, path)
}
