package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
	"time"
	"unicode"

	"gomodfetch/download"
	"gomodfetch/pipeline"
	"gomodfetch/proxy"
)

// runReport is what -report writes (JSON) and what the GitHub Actions step
// summary shows (Markdown).
type runReport struct {
	Totals  reportTotals
	Modules []reportModule
	Proxies []proxy.ProxyStats
	Policy  *policyReport `json:",omitempty"` // with -policy (cmdpolicy.go)
}

type reportTotals struct {
	Modules    int // modules reported
	Downloaded int // zips downloaded
	Cached     int // found complete in the cache
	Failed     int
	Requests   int64 // HTTP requests
	Bytes      int64 // body bytes received
	Retries    int64
	Seconds    float64
}

type reportModule struct {
	Path     string
	Version  string
	Source   string `json:",omitempty"` // "cache", a proxy, "direct"
	Bytes    int64
	Attempts int
	Seconds  float64
	Error    string `json:",omitempty"`
}

// newRunReport gathers the run's report from the fetcher's records and the
// router's counters.
func newRunReport(rep *pipeline.Report, fetcher *download.Fetcher, elapsed time.Duration) *runReport {
	st := fetcher.Stats()
	r := &runReport{Proxies: fetcher.ProxyStats()}
	r.Totals = reportTotals{Modules: len(rep.Modules), Downloaded: st.Zips, Requests: st.Requests, Bytes: st.Bytes, Retries: st.Retries, Seconds: elapsed.Seconds()}
	recorded := map[string]bool{}
	for _, rec := range fetcher.Records() {
		recorded[rec.Path+"@"+rec.Version] = true
		r.Modules = append(r.Modules, reportModule{Path: rec.Path, Version: rec.Version, Source: rec.Source, Bytes: rec.Bytes,
			Attempts: rec.Attempts, Seconds: rec.Duration.Seconds(), Error: rec.Error})
		if rec.Source == "cache" && rec.Error == "" && rec.Attempts == 0 {
			r.Totals.Cached++
		}
	}
	for _, m := range rep.Modules {
		if m.Error != "" {
			r.Totals.Failed++
			if !recorded[m.Path+"@"+m.Version] {
				r.Modules = append(r.Modules, reportModule{Path: m.Path, Version: m.Version, Error: m.Error})
			}
		}
	}
	sort.SliceStable(r.Modules, func(i, j int) bool {
		a, b := r.Modules[i], r.Modules[j]
		if a.Path != b.Path {
			return a.Path < b.Path
		}
		return a.Version < b.Version
	})
	if r.Modules == nil {
		r.Modules = []reportModule{}
	}
	if r.Proxies == nil {
		r.Proxies = []proxy.ProxyStats{}
	}
	return r
}

// writeReports writes -report's file and, in GitHub Actions, appends the
// Markdown summary to $GITHUB_STEP_SUMMARY. It reports whether -report's
// file was written (a summary that cannot be written only warns).
func writeReports(file string, r *runReport, stderr io.Writer) bool {
	ok := true
	if file != "" {
		b, err := json.MarshalIndent(r, "", "\t")
		if err == nil {
			err = os.WriteFile(file, append(b, '\n'), 0o666)
		}
		if err != nil {
			fmt.Fprintf(stderr, "gomodfetch: writing -report: %v\n", err)
			ok = false
		}
	}
	if summary := os.Getenv("GITHUB_STEP_SUMMARY"); summary != "" {
		f, err := os.OpenFile(summary, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o666)
		if err == nil {
			_, err = io.WriteString(f, r.markdown())
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if err != nil {
			fmt.Fprintf(stderr, "gomodfetch: warning: writing the step summary: %v\n", err)
		}
	}
	return ok
}

// slowest is how many modules the summary lists by time.
const slowest = 5

// markdown renders the report for a GitHub Actions job page: totals, a
// table per proxy, the slowest modules, and every module that needed a
// retry or failed. Text from servers is escaped for Markdown.
func (r *runReport) markdown() string {
	var b strings.Builder
	t := r.Totals
	b.WriteString("### gomodfetch\n\n")
	status := "✅"
	if t.Failed > 0 {
		status = "❌"
	}
	fmt.Fprintf(&b, "%s **%d modules**: %d downloaded, %d from the cache, %d failed · %d requests · %s · %d retries · %.2fs\n\n",
		status, t.Modules, t.Downloaded, t.Cached, t.Failed, t.Requests, humanBytes(t.Bytes), t.Retries, t.Seconds)

	if len(r.Proxies) > 0 {
		b.WriteString("| proxy | requests | retries | failures | hedges won | demotions |\n|---|---:|---:|---|---:|---:|\n")
		for _, p := range r.Proxies {
			fmt.Fprintf(&b, "| %s | %d | %d | %s | %d | %d |\n", mdCell(p.Proxy), p.Requests, p.Retries, failureClasses(p.Failures), p.HedgesWon, p.Demotions)
		}
		b.WriteString("\n")
	}

	var fetched []reportModule
	for _, m := range r.Modules {
		if m.Source != "" && m.Source != "cache" {
			fetched = append(fetched, m)
		}
	}
	sort.SliceStable(fetched, func(i, j int) bool { return fetched[i].Seconds > fetched[j].Seconds })
	if len(fetched) > slowest {
		fetched = fetched[:slowest]
	}
	if len(fetched) > 0 {
		b.WriteString("<details><summary>Slowest modules</summary>\n\n| module | from | size | attempts | time |\n|---|---|---:|---:|---:|\n")
		for _, m := range fetched {
			fmt.Fprintf(&b, "| `%s@%s` | %s | %s | %d | %.2fs |\n", mdCode(m.Path), mdCode(m.Version), mdCell(m.Source), humanBytes(m.Bytes), m.Attempts, m.Seconds)
		}
		b.WriteString("\n</details>\n\n")
	}

	var trouble []string
	for _, m := range r.Modules {
		switch {
		case m.Error != "":
			trouble = append(trouble, fmt.Sprintf("- ❌ `%s@%s`: %s", mdCode(m.Path), mdCode(m.Version), mdCell(m.Error)))
		case m.Attempts > 1:
			trouble = append(trouble, fmt.Sprintf("- ⚠️ `%s@%s`: %d attempts, served by %s", mdCode(m.Path), mdCode(m.Version), m.Attempts, mdCell(m.Source)))
		}
	}
	if len(trouble) > 0 {
		b.WriteString("**Retries and failures**\n\n" + strings.Join(trouble, "\n") + "\n\n")
	}
	b.WriteString(r.Policy.markdown())
	return b.String()
}

// failureClasses is "transient: 3, not found: 1", or "—".
func failureClasses(f map[string]int64) string {
	if len(f) == 0 {
		return "—"
	}
	var s []string
	for _, k := range sortedKeys(f) {
		s = append(s, fmt.Sprintf("%s: %d", k, f[k]))
	}
	return strings.Join(s, ", ")
}

func sortedKeys(m map[string]int64) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// mdCell makes untrusted text one line of plain Markdown table text: no
// control characters, no markup, at most 300 characters.
func mdCell(s string) string {
	var b strings.Builder
	n := 0
	for _, r := range s {
		if n == 300 {
			b.WriteString("…")
			break
		}
		n++
		switch {
		case r == '\n' || r == '\t':
			b.WriteByte(' ')
		case !unicode.IsGraphic(r):
			b.WriteRune(unicode.ReplacementChar)
		case strings.ContainsRune("\\`*_{}[]()<>#+!|~&", r):
			b.WriteByte('\\')
			b.WriteRune(r)
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// mdCode makes a module path or version safe inside a code span.
func mdCode(s string) string {
	return strings.Map(func(r rune) rune {
		if r == '`' || r == '|' || !unicode.IsGraphic(r) {
			return '?'
		}
		return r
	}, s)
}
