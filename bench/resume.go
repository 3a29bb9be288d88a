package main

// The resume case (go run ./bench -resume): what a connection reset in the
// middle of the largest zip costs. Issue 16's target is that it costs
// gomodfetch at most 15% of that zip's clean time.

import (
	"bytes"
	"cmp"
	"fmt"
	"gomodfetch/internal/cachecmp"
	"gomodfetch/internal/faultproxy"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"time"

	"golang.org/x/mod/module"
)

// resumeCuts are the places the resume case cuts the zip at, as fractions
// of the whole file.
var resumeCuts = []float64{0.5, 0.9}

// resumeSample is one timed run of the resume case.
type resumeSample struct {
	sample
	failed string           // the tool's last line of stderr, if it failed
	rerun  *resumeSample    // after a failure: the same command again, no fault
	cuts   []faultproxy.Cut // what the proxy reset
	// zip is when the proxy wrote the zip's last byte, from the start of
	// the run: the download alone, without the unpacking after it.
	zip time.Duration
}

// total is the time the download took, a rerun after a failure included.
func (r resumeSample) total() time.Duration {
	if r.rerun != nil {
		return r.wall + r.rerun.wall
	}
	return r.wall
}

// totalZip is the time until the zip was all downloaded, a failed run
// before it included.
func (r resumeSample) totalZip() time.Duration {
	if r.rerun != nil {
		return r.wall + r.rerun.zip
	}
	return r.zip
}

func (r resumeSample) totalBytes() int64 {
	if r.rerun != nil {
		return r.bytes + r.rerun.bytes
	}
	return r.bytes
}

// runResume times the download of the set's largest zip alone, on a fresh
// cache, outside any module (tool path@version): clean, then with the
// proxy resetting the connection once, at each of resumeCuts. The cut is
// "reset-file-at F x1": the first response that gets to the byte at F of
// the zip is reset right there, whichever range it answers; go's one GET
// of the whole zip, and the one of gomodfetch's parallel ranges that holds
// that byte.
func runResume(o options, set *moduleSet, px *faultproxy.Server, tools []tool, baseEnv []string, work string) error {
	var big *modVersion
	for _, m := range set.Main {
		for _, mv := range set.Versions {
			if mv.Path == m.Path && mv.Version == m.Version && (big == nil || mv.ZipSize > big.ZipSize) {
				big = mv
			}
		}
	}
	if big == nil {
		return fmt.Errorf("resume: no zip in the set")
	}
	ep, err := module.EscapePath(big.Path)
	if err != nil {
		return err
	}
	ev, err := module.EscapeVersion(big.Version)
	if err != nil {
		return err
	}
	zipPath := ep + "/@v/" + ev + ".zip"
	target := big.Path + "@" + big.Version
	// gomodfetch's ranges (proxy.Client.GetFile with Parallel 4: as many
	// as fit at least 16 MiB each, at most 4).
	parts := min(4, big.ZipSize/(16<<20))
	how := "one GET too (its ranges are at least 16 MiB, so it is one)"
	if parts > 1 {
		how = fmt.Sprintf("%d ranges of %s", parts, mib(big.ZipSize/parts))
	}
	fmt.Printf("resume: %s, a %s zip of %d files, alone on a fresh cache (go mod download path@version and gomodfetch -q path@version, outside a module); go fetches it in one GET, gomodfetch in %s\n",
		target, mib(big.ZipSize), big.ZipFiles, how)

	cases := []string{"clean"}
	for _, f := range resumeCuts {
		cases = append(cases, fmt.Sprintf("cut %.0f%%", 100*f))
	}
	samples := map[string][][]resumeSample{}
	for _, c := range cases {
		samples[c] = make([][]resumeSample, len(tools))
	}
	var mismatches []string
	for round := range o.rounds {
		rdir := filepath.Join(work, fmt.Sprintf("resume%d", round))
		cleanCache := make([]string, len(tools))
		for ci, c := range cases {
			order := []int{0, 1}
			if o.only {
				order = []int{0}
			} else if (round+ci)%2 == 1 {
				order = []int{1, 0}
			}
			for _, i := range order {
				t := tools[i]
				run := filepath.Join(rdir, fmt.Sprintf("%s-%d", strings.ReplaceAll(c, " ", ""), i))
				cache, dir := filepath.Join(run, "cache"), filepath.Join(run, "cwd")
				if err := os.MkdirAll(dir, 0o777); err != nil {
					return err
				}
				env := append(append(slices.Clip(baseEnv), t.env...),
					"GOMODCACHE="+cache, "GOPATH="+filepath.Join(run, "gopath"))
				var rules *faultproxy.Rules
				if ci > 0 {
					rules, err = faultproxy.ParseRules("resume", strings.NewReader(fmt.Sprintf("%s reset-file-at %g x1\n", zipPath, resumeCuts[ci-1])))
					if err != nil {
						return err
					}
				}
				cmd := func() *exec.Cmd {
					c := t.cmd(dir, "resume")
					c.Args = append(c.Args, target)
					return c
				}
				px.SetRules(rules)
				s, err := measureResume(px, cmd(), env, zipPath)
				px.SetRules(nil)
				if err != nil {
					return fmt.Errorf("resume, round %d, %s, %s: %v", round+1, c, t.name, err)
				}
				if ci > 0 && len(s.cuts) != 1 {
					return fmt.Errorf("resume, round %d, %s, %s: the proxy cut %d responses, want 1", round+1, c, t.name, len(s.cuts))
				}
				if s.failed != "" {
					// What a user does next: run it again.
					r, err := measureResume(px, cmd(), env, zipPath)
					if err != nil {
						return err
					}
					if r.failed != "" {
						return fmt.Errorf("resume, round %d, %s, %s: failed twice: %s", round+1, c, t.name, r.failed)
					}
					s.rerun = &r
				}
				if o.verbose {
					fmt.Printf("resume round %d %-8s %-16s %7.2fs (zip in %5.2fs) %9s %3d requests %6.2fs CPU  %s", round+1, c, t.name, s.wall.Seconds(), s.zip.Seconds(), mib(s.bytes), s.requests, s.cpu.Seconds(), s.failed)
					if s.rerun != nil {
						fmt.Printf("; rerun %.2fs (zip in %.2fs) %s", s.rerun.wall.Seconds(), s.rerun.zip.Seconds(), mib(s.rerun.bytes))
					}
					for _, cut := range s.cuts {
						fmt.Printf("; cut %v", cut)
					}
					fmt.Println()
				}
				samples[c][i] = append(samples[c][i], s)
				// Every tool's cache, cut or not, must be what go's clean
				// run left.
				if ci == 0 {
					cleanCache[i] = cache
				}
				ref := cleanCache[0]
				if ref == "" || (ci == 0 && i == 0) {
					continue
				}
				if diffs := cachecmp.Compare(ref, cache); len(diffs) > 0 {
					mismatches = append(mismatches, fmt.Sprintf("round %d, %s, %s: %s", round+1, c, t.name, strings.Join(diffs[:min(len(diffs), 5)], "; ")))
				}
			}
			if ci == 0 && !o.only && cleanCache[1] != "" {
				if diffs := cachecmp.Compare(cleanCache[0], cleanCache[1]); len(diffs) > 0 {
					mismatches = append(mismatches, fmt.Sprintf("round %d, clean: %s", round+1, strings.Join(diffs[:min(len(diffs), 5)], "; ")))
				}
			}
		}
		// The rounds are removed with the work directory at the end
		// (see settleInodes).
	}

	// What was cut, from the last round (the ranges are the same every
	// round).
	fmt.Println()
	for ci, c := range cases[1:] {
		fmt.Printf("%s: one connection reset, at byte %d of %d (reset-file-at %g x1):\n", c, int64(resumeCuts[ci]*float64(big.ZipSize)), big.ZipSize, resumeCuts[ci])
		for i, t := range tools {
			if ss := samples[c][i]; len(ss) > 0 && len(ss[len(ss)-1].cuts) > 0 {
				fmt.Printf("\t%-16s %v\n", t.name, ss[len(ss)-1].cuts[0])
			}
		}
	}
	fmt.Printf("\nmedians of %d rounds; extra = (cut - clean) / clean, of the medians; zip = until the proxy wrote the zip's last byte (the download without the unpacking); bytes = what the proxy served\n", o.rounds)
	fmt.Printf("| case | tool | time | extra | zip | extra (zip) | bytes served | bytes / clean | requests | outcome |\n|---|---|---|---|---|---|---|---|---|---|\n")
	for i, t := range tools {
		clean := medianResume(samples["clean"][i], resumeSample.total)
		cleanZip := medianResume(samples["clean"][i], resumeSample.totalZip).totalZip()
		for _, c := range cases {
			s := medianResume(samples[c][i], resumeSample.total)
			zip := medianResume(samples[c][i], resumeSample.totalZip).totalZip()
			outcome := "ok"
			if s.failed != "" {
				why := s.failed
				if i := strings.LastIndex(why, ": "); i >= 0 {
					why = why[i+2:] // "connection reset by peer"
				}
				outcome = fmt.Sprintf("failed after %.2fs (%s); a rerun, from byte 0, took %.2fs", s.wall.Seconds(), why, s.rerun.wall.Seconds())
			}
			fails := 0
			for _, r := range samples[c][i] {
				if r.failed != "" {
					fails++
				}
			}
			if fails > 0 && fails < len(samples[c][i]) {
				outcome += fmt.Sprintf(" (failed in %d of %d rounds)", fails, len(samples[c][i]))
			}
			extra, extraZip := "—", "—"
			if c != "clean" {
				extra = fmt.Sprintf("%+.1f%%", 100*(s.total().Seconds()-clean.total().Seconds())/clean.total().Seconds())
				extraZip = fmt.Sprintf("%+.1f%%", 100*(zip.Seconds()-cleanZip.Seconds())/cleanZip.Seconds())
			}
			fmt.Printf("| %s | %s | %.2fs | %s | %.2fs | %s | %s | %.2f | %d | %s |\n", c, t.name, s.total().Seconds(), extra,
				zip.Seconds(), extraZip, mib(s.totalBytes()), float64(s.totalBytes())/float64(clean.totalBytes()), s.requests, outcome)
		}
	}
	for _, m := range mismatches {
		fmt.Printf("MISMATCH %s\n", m)
	}
	if len(mismatches) > 0 {
		return fmt.Errorf("resume: %d runs whose caches differ from go's clean one", len(mismatches))
	}
	return nil
}

// measureResume is measure for the resume case: a tool that fails is a
// result, not an error.
func measureResume(px *faultproxy.Server, cmd *exec.Cmd, env []string, zipPath string) (resumeSample, error) {
	self, err := os.Executable()
	if err != nil {
		return resumeSample{}, err
	}
	settleInodes()
	syscall.Sync()
	px.Reset()
	var stdout, stderr bytes.Buffer
	w := exec.Command(self, append([]string{measureArg, cmd.Path}, cmd.Args[1:]...)...)
	w.Dir, w.Env, w.Stdout, w.Stderr = cmd.Dir, env, &stdout, &stderr
	start := time.Now()
	runErr := w.Run()
	st := px.Stats()
	s := resumeSample{sample: sample{requests: st.Requests, bytes: st.Bytes, conns: st.Conns}, cuts: px.Cuts()}
	// The last range to finish (gomodfetch's first range, read from the
	// whole GET it then closes, never finishes on the proxy's side; it
	// starts first and is not the last to end).
	if fin := px.Finished(zipPath); !fin.IsZero() {
		s.zip = fin.Sub(start)
	}
	var ns, cpu int64
	if _, err := fmt.Sscan(stdout.String(), &ns, &s.rss, &cpu); err != nil {
		return resumeSample{}, fmt.Errorf("reading the measurement %q: %v\n%s", stdout.String(), err, stderr.String())
	}
	s.wall, s.cpu = time.Duration(ns), time.Duration(cpu)
	if runErr != nil {
		lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
		// The helper's own last line is the exit status; the tool's
		// complaint is the line before it.
		s.failed = lines[len(lines)-1]
		if len(lines) > 1 {
			s.failed = lines[len(lines)-2]
		}
	}
	return s, nil
}

// medianResume returns the sample with the median by.
func medianResume(s []resumeSample, by func(resumeSample) time.Duration) resumeSample {
	if len(s) == 0 {
		return resumeSample{}
	}
	s = slices.Clone(s)
	slices.SortFunc(s, func(a, b resumeSample) int { return cmp.Compare(by(a), by(b)) })
	return s[len(s)/2]
}
