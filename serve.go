package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/urfave/cli/v2"
	"golang.org/x/mod/module"

	"gomodfetch/download"
	"gomodfetch/fleet"
	"gomodfetch/internal/beneath"
	"gomodfetch/modcache"
	"gomodfetch/policy"
	"gomodfetch/project"
	"gomodfetch/proxy"
	"gomodfetch/serve"
	"gomodfetch/verify"
)

// serveCommand is `gomodfetch serve`: a GOPROXY in front of the engine
// (package serve), configured from the environment as a download is.
func serveCommand(cc *cmdContext) *cli.Command {
	return &cli.Command{
		Name:  "serve",
		Usage: "run a resilient, verifying, caching GOPROXY for every go command",
		UsageText: "gomodfetch serve [-addr 127.0.0.1:3000] [-modcache dir] [-offline] [-log-format text|json]\n" +
			"   export GOPROXY=http://127.0.0.1:3000 GOFLAGS=-mod=mod",
		Description: "Serves the GOPROXY protocol and proxies the checksum database (GOSUMDB) from the\n" +
			"module cache, filling it from the server's own GOPROXY list with gomodfetch's retries,\n" +
			"timeouts and hedging. Every .mod and .zip is checked in the checksum database before\n" +
			"it is stored or served. GOPRIVATE/GONOPROXY paths are answered 404 and never asked\n" +
			"upstream, so a client's own \",direct\" fetches them, unless -restrict names them: then\n" +
			"serve fetches them with its own credentials (from version control through the go\n" +
			"command, or from a private GOPROXY entry) and serves them to credentials whose scope\n" +
			"covers them; the first hash it serves of each such version is kept (docs/serve-team.md).",
		Flags: append([]cli.Flag{
			&cli.StringFlag{Name: "addr", Value: "127.0.0.1:3000", Usage: "listen on `host:port` (\":3000\" for every interface, \":0\" for any free port)"},
			&cli.StringFlag{Name: "addr-file", Usage: "write the server's URL to `file` once it listens"},
			&cli.StringFlag{Name: "modcache", Aliases: []string{"cache"}, Usage: "module cache `dir` to serve and fill (default: GOMODCACHE); not the fleet cache, which is -cache-url's"},
			&cli.BoolFlag{Name: "offline", Usage: "serve only what the cache holds; never ask upstream"},
			&cli.StringFlag{Name: "log-format", Value: "text", Usage: "access log on stderr as `text` or json"},
			&cli.DurationFlag{Name: "list-timeout", Value: 10 * time.Second, Usage: "give up refreshing a version list or @latest upstream after `d` and serve the cache's"},
			&cli.DurationFlag{Name: "stale-after", Value: 2 * time.Second, Usage: "when the cache holds a version list or @latest answer, serve it (marked stale) if upstream has not answered within `d`; the refresh goes on (0: wait up to -list-timeout)"},
			&cli.DurationFlag{Name: "not-found-ttl", Value: time.Minute, Usage: "remember an upstream \"not found\" for `d` (0: not at all)"},
			&cli.DurationFlag{Name: "absent-ttl", Value: 30 * time.Minute, Usage: "remember for `d`, across restarts (below the cache), that upstream has no such module version (an exact version's .info, .mod or .zip) (0: only for -not-found-ttl)"},
			&cli.DurationFlag{Name: "failure-ttl", Value: 10 * time.Second, Usage: "remember any other upstream failure for `d` and answer it again without asking (0: not at all)"},
			&cli.IntFlag{Name: "upstream", Value: 64, Usage: "send at most `N` upstream requests at a time (clients' first, then prefetches')"},
			&cli.IntFlag{Name: "client-upstream", Value: 16, Usage: "let one client address start at most `N` upstream fetches at a time (at most -upstream); more wait for its own"},
			&cli.DurationFlag{Name: "upstream-timeout", Value: time.Minute, Usage: "give up an upstream .info, .mod, list, query or checksum-database read (retries included) after `d`: 504"},
			&cli.DurationFlag{Name: "zip-timeout", Value: 10 * time.Minute, Usage: "give up an upstream zip download (retries included) after `d`: 504"},
			&cli.IntFlag{Name: "prefetch", Value: 32, Usage: "fetch ahead what a client's go command will ask next (the go.mod files below an unpruned go.mod, a .mod's .info, a zip once the client names it by its .info or a build reads its go.mod; see docs/serve-bounds.md), at most `N` at a time, zips at most N/2 (at least 1) (0: off)"},
			&cli.IntFlag{Name: "prefetch-per-client", Value: 64, Usage: "let one client address owe at most `N` zip prefetches (4 x N go.mod files, plus 4 for each go.mod it read lately); the next wait for it to ask for one; and 4 x N zips of the go.mod files it read unpredicted (its main module's requirements), fetched as it reads them"},
			&cli.IntFlag{Name: "max-conns", Value: 1024, Usage: "keep at most `N` client connections open; past it the longest idle one is closed, or the new one answered 503"},
			&cli.IntFlag{Name: "max-conns-per-client", Value: 128, Usage: "keep at most `N` connections open from one client address (same rule)"},
			&cli.DurationFlag{Name: "write-timeout", Value: 30 * time.Second, Usage: "cut a client that does not take each 128 KiB of a response within `d`"},
			&cli.DurationFlag{Name: "shutdown-timeout", Value: 30 * time.Second, Usage: "on SIGTERM or SIGINT, let requests in flight finish for up to `d`"},
			&cli.StringFlag{Name: "tls-cert", Usage: "answer HTTPS with the certificate (PEM, chain after the leaf) in `file`, reloaded when it changes; needs -tls-key"},
			&cli.StringFlag{Name: "tls-key", Usage: "the private key (PEM) of -tls-cert, in `file`"},
			&cli.StringFlag{Name: "credentials", EnvVars: []string{"GOMODFETCH_SERVE_CREDENTIALS"}, Usage: "the clients' credentials, one `file` line each: name:bcrypt-hash (as htpasswd -nbB prints it) and the module path patterns it may read; reloaded when it changes"},
			&cli.StringFlag{Name: "restrict", EnvVars: []string{"GOMODFETCH_SERVE_RESTRICT"}, Usage: "module path `patterns` (as GOPRIVATE) served only to a credential whose scope covers them: 401 without one, 404 outside its scope; private ones (GOPRIVATE/GONOPROXY) are fetched with serve's own credentials, from version control through the go command"},
			&cli.BoolFlag{Name: "auth-public", Usage: "require a valid credential for every module path, not only -restrict's"},
			&cli.StringFlag{Name: "policy", EnvVars: []string{"GOMODFETCH_POLICY"}, Usage: "apply the supply-chain policy in `file` (docs/policy.md): denied versions hidden from lists and @latest and answered 403; reloaded when it changes"},
			&cli.BoolFlag{Name: "policy-dry-run", Usage: "with -policy, only log and count what it would deny"},
			&cli.StringFlag{Name: "vulndb", Usage: "read the Go vulnerability database from `source` (https URL, directory or zip; default: the policy's vulndb line, else https://vuln.go.dev), refreshed hourly"},
		}, append(engineFlags(), fleetFlags()...)...),
		Action: func(c *cli.Context) error { return runServe(cc, c) },
	}
}

func runServe(cc *cmdContext, c *cli.Context) error {
	stderr := c.App.ErrWriter
	if c.Int("upstream") < 1 || c.Int("prefetch") < 0 || c.Int("client-upstream") < 1 || c.Int("prefetch-per-client") < 1 ||
		c.Int("max-conns") < 1 || c.Int("max-conns-per-client") < 1 {
		return cli.Exit("gomodfetch serve: -upstream, -client-upstream, -prefetch-per-client, -max-conns and -max-conns-per-client must be at least 1, -prefetch at least 0", exitUsage)
	}
	for _, name := range []string{"upstream-timeout", "zip-timeout", "write-timeout"} {
		if c.Duration(name) <= 0 {
			return cli.Exit("gomodfetch serve: -"+name+" must be positive", exitUsage)
		}
	}
	var logger *slog.Logger
	logOut := newLogBuffer(stderr)
	defer logOut.Close()
	switch c.String("log-format") {
	case "text":
		logger = slog.New(slog.NewTextHandler(logOut, nil))
	case "json":
		logger = slog.New(slog.NewJSONHandler(logOut, nil))
	default:
		return cli.Exit("gomodfetch serve: -log-format must be text or json", exitUsage)
	}
	fail := func(err error) error { return cli.Exit("gomodfetch serve: "+err.Error(), 1) }

	env, err := project.NewEnv(os.Getenv)
	if err != nil {
		return fail(err)
	}
	settings := readSettings(c, cc.chdir, env.Flags)
	settings.ModCache = c.String("modcache")
	if err := settings.Check(); err != nil {
		return cli.Exit("gomodfetch serve: "+err.Error(), exitUsage)
	}
	// The engine runs on a context of its own, ended only after the
	// requests in flight had their chance to finish. The fleet cache:
	// replicas that share one bucket fill each other.
	engineCtx, stopEngine := context.WithCancel(context.Background())
	defer stopEngine()
	p, err := project.OpenEngine(engineCtx, settings, env, project.Hooks{
		Warn: func(msg string) { logger.Warn(msg) },
	})
	if err != nil {
		return fail(err)
	}
	defer p.Close(true, true)
	if err := p.SumDBErr(); err != nil {
		return fail(err)
	}
	if p.SumDB() == "" {
		logger.Warn("GOSUMDB=off: nothing is checked in a checksum database; what upstream serves is stored and served as it is")
	}
	dc := p.EngineConfig(engineCtx)
	dc.ForgetAnswers = true
	// Hashing a zip inflates every file: a server hashing as many zips at
	// once as it has CPUs answers its clients late (each waits for a CPU
	// behind the hashes; prometheus through serve on 2 CPUs, go.mod reads
	// 4.4 s -> 6.1-6.6 s when zips were fetched during them, 4.7 s with one CPU left). One CPU is left
	// to the answers (docs/serve-bounds.md).
	dc.Extractions = max(1, runtime.GOMAXPROCS(0)-1)
	restrict := c.String("restrict")
	if restrict == "" || c.Bool("offline") {
		dc.GoCommand = nil // a module only version control has: 404, the client goes direct
	} else {
		// -restrict's paths that only version control has (GONOPROXY, or
		// "direct" reached in GOPROXY) are fetched by the go command with
		// serve's own environment: its .netrc, git credential helpers,
		// SSH keys and GIT_* settings. Other paths: 404, as ever.
		dc.GoCommandFor = func(path string) bool { return module.MatchPrefixPatterns(restrict, path) }
		dc.DirectQueries = true
		dc.GoCommand.Timeout = c.Duration("zip-timeout")
		// The list has led to "direct" already: the go command is not to
		// ask its proxies again.
		dc.GoCommand.Env = append(dc.GoCommand.Env, "GOPROXY=direct")
		if warn := restrictWarning(restrict, p.NoProxy, p.Proxies()); warn != "" {
			logger.Warn(warn)
		}
	}
	if !c.Bool("offline") {
		// Paths the checksum database does not cover (GONOSUMDB, GOPRIVATE,
		// GOSUMDB=off): the first hash served of each version is kept, and
		// different bytes for it later are refused (serve-private.sum).
		stopRecord, err := recordFirstHashes(engineCtx, dc.Verifier, dc.Cache, p.Fleet(), logger)
		if err != nil {
			return fail(err)
		}
		defer stopRecord()
	}
	var srv *serve.Server
	dc.Router.OnEvent = func(p proxy.Proxy, event string) {
		if srv != nil {
			srv.UpstreamEvent(p.String(), event)
		}
	}
	sc := serve.Config{
		Cache:             dc.Cache,
		Private:           p.NoProxy,
		NoSumDB:           dc.Verifier.SkipSumDB,
		Offline:           c.Bool("offline"),
		Context:           engineCtx,
		Logger:            logger,
		ListTimeout:       c.Duration("list-timeout"),
		StaleAfter:        offIfZero(c.Duration("stale-after")),
		NotFoundTTL:       offIfZero(c.Duration("not-found-ttl")),
		AbsentTTL:         offIfZero(c.Duration("absent-ttl")),
		FailureTTL:        offIfZero(c.Duration("failure-ttl")),
		MaxUpstream:       c.Int("upstream"),
		ClientUpstream:    min(c.Int("client-upstream"), c.Int("upstream")),
		UpstreamTimeout:   c.Duration("upstream-timeout"),
		ZipTimeout:        c.Duration("zip-timeout"),
		Prefetch:          offIfZero(c.Int("prefetch")),
		PrefetchPerClient: c.Int("prefetch-per-client"),
		MaxConns:          c.Int("max-conns"),
		MaxConnsPerClient: c.Int("max-conns-per-client"),
		WriteTimeout:      c.Duration("write-timeout"),
	}
	if !sc.Offline {
		// download.New only after the hook above is set.
		sc.Fetcher = download.New(dc)
	}
	if sc.SumDBName = p.SumDB(); sc.SumDBName != "" {
		sc.SumDBCacheDir = filepath.Join(p.ModCache(), "cache", "download", "sumdb")
		sc.SumDBConfigDir = p.SumDBConfigDir()
		if db, ok := dc.Verifier.DB.(*verify.SumDBClient); ok && !sc.Offline {
			sc.SumDB = db
		}
	}
	if cert, key := c.String("tls-cert"), c.String("tls-key"); cert != "" || key != "" {
		if cert == "" || key == "" {
			return cli.Exit("gomodfetch serve: -tls-cert and -tls-key go together", exitUsage)
		}
		sc.TLS = &serve.TLSFiles{Cert: cert, Key: key}
	}
	if file := c.String("credentials"); file != "" {
		creds, err := serve.LoadCredentials(file, func(msg string, err error) { logger.Warn(msg, "error", err.Error()) })
		if err != nil {
			return fail(err)
		}
		sc.Credentials = creds
		sc.PublicNeedsAuth = c.Bool("auth-public")
		if pats := c.String("restrict"); pats != "" {
			sc.Restricted = func(path string) bool { return module.MatchPrefixPatterns(pats, path) }
		}
		if sc.TLS == nil {
			logger.Warn("-credentials without -tls-cert: secrets cross the network in clear unless a TLS-terminating proxy is in front")
		}
	} else if c.String("restrict") != "" || c.Bool("auth-public") {
		return cli.Exit("gomodfetch serve: -restrict and -auth-public need -credentials", exitUsage)
	}
	if file := c.String("policy"); file != "" {
		gate, seen, err := openPolicy(engineCtx, file, c.String("vulndb"), p.ModCache(), dc.Router.Client.HTTP, logger)
		if err != nil {
			return fail(err)
		}
		defer seen.Close()
		sc.Policy, sc.Seen, sc.PolicyDryRun = gate, seen, c.Bool("policy-dry-run")
	} else if c.Bool("policy-dry-run") || c.String("vulndb") != "" {
		return cli.Exit("gomodfetch serve: -policy-dry-run and -vulndb need -policy", exitUsage)
	}
	srv = serve.New(sc)
	dc.Router.Client.Gate = srv.Gate() // every upstream request within -upstream
	if dc.GoCommand != nil {
		// And every run of the go command, as a request to the module
		// path's host: -upstream, -client-upstream and the per-host bound.
		dc.GoCommand.Enter = dc.Router.Client.Acquire
	}

	l, err := net.Listen("tcp", c.String("addr"))
	if err != nil {
		return fail(err)
	}
	url := "http://" + l.Addr().String()
	if sc.TLS != nil {
		url = "https://" + l.Addr().String()
	}
	if f := c.String("addr-file"); f != "" {
		if err := writeAtomic(f, url+"\n"); err != nil {
			l.Close()
			return fail(err)
		}
	}
	logger.Info("serving", "url", url, "cache", p.ModCache(), "offline", sc.Offline, "upstream", p.Proxies(), "sumdb", sc.SumDBName)

	sigCtx, intr := notifyInterrupts(context.Background())
	defer intr.stop()
	served := make(chan error, 1)
	go func() { served <- srv.Serve(l) }()
	select {
	case err := <-served:
		return fail(err)
	case <-sigCtx.Done():
	}
	logger.Info("shutting down", "signal", fmt.Sprint(intr.signal()))
	shutCtx, cancel := context.WithTimeout(context.Background(), c.Duration("shutdown-timeout"))
	defer cancel()
	err = srv.Shutdown(shutCtx)
	// Downloads still running are cut; the cache protocol leaves nothing
	// partial under a final name.
	stopEngine()
	srv.Wait()
	// Write-backs to the fleet cache get -cache-wait to finish.
	for _, line := range p.Close(false, false) {
		logger.Info(line)
	}
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return fail(err)
	}
	logger.Info("stopped")
	return nil
}

// offIfZero turns a flag's 0 ("off") into serve.Config's negative.
func offIfZero[T int | time.Duration](v T) T {
	if v == 0 {
		return -1
	}
	return v
}

// writeAtomic writes data to file by rename, so a reader never sees it
// half written.
func writeAtomic(file, data string) error {
	tmp := file + ".tmp"
	if err := os.WriteFile(tmp, []byte(data), 0o666); err != nil {
		return err
	}
	return os.Rename(tmp, file)
}

// openPolicy loads serve's policy file (watched for changes), the
// vulnerability database it needs (refreshed hourly; a failed refresh
// keeps the data in use) and the first-seen record below the module cache.
func openPolicy(ctx context.Context, file, vulndb, modCache string, hc *http.Client, logger *slog.Logger) (*policy.Gate, *policy.Seen, error) {
	w, err := policy.NewWatcher(file)
	if err != nil {
		return nil, nil, err
	}
	go w.Run(ctx, time.NewTicker(5*time.Second).C, func(changed bool, err error) {
		switch {
		case err != nil:
			logger.Warn("policy file not reloaded; the previous policy stays in force", "error", err.Error())
		case changed:
			logger.Info("policy reloaded", "file", file)
		}
	})
	gate := &policy.Gate{Policy: w}
	if w.Current().ChecksVulns() {
		if vulndb == "" {
			vulndb = w.Current().VulnDB()
		}
		if vulndb == "" {
			vulndb = "https://vuln.go.dev"
		}
		db, err := policy.OpenVulnDB(vulndb, policy.VulnOptions{Client: hc})
		if err != nil {
			return nil, nil, err
		}
		rctx, cancel := context.WithTimeout(ctx, time.Minute)
		if err := db.Refresh(rctx); err != nil {
			logger.Warn("vulnerability database not read; versions it would check are refused until it is", "source", vulndb, "error", err.Error())
		}
		cancel()
		go db.Run(ctx, time.NewTicker(time.Hour).C, func(err error) {
			if err != nil {
				logger.Warn("vulnerability database not refreshed; the data in use stays", "source", vulndb, "error", err.Error())
			}
		})
		gate.Vulns = db
	}
	dir := filepath.Join(modCache, "cache", "gomodfetch")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, nil, err
	}
	seen, err := policy.OpenSeenIn(beneath.New(modCache), "cache/gomodfetch/policy-first-seen")
	if err != nil {
		return nil, nil, err
	}
	for _, e := range w.Current().Expired(time.Now()) {
		logger.Warn("policy exception expired", "exception", fmt.Sprint(e))
	}
	return gate, seen, nil
}

// recordFirstHashes gives v a record, in go.sum form, of the hashes it
// accepted for paths no checksum database covers, read from and written
// to $GOMODCACHE/cache/gomodfetch/serve-private.sum (flushed each second
// while something is new, and at stop): a version whose bytes change
// upstream (a moved tag, a rebuilt zip) is refused from then on, across
// restarts. An operator retires a version by deleting its lines.
//
// With a fleet bucket, the record is shared: the first hash any replica
// accepted for a version is the only one the others accept (fleetRecord).
func recordFirstHashes(ctx context.Context, v *verify.Verifier, cache *modcache.Cache, bucket *fleet.Cache, logger *slog.Logger) (stop func(), err error) {
	if v == nil || v.SkipSumDB == nil {
		return func() {}, nil
	}
	dir := filepath.Join(cache.Root, "cache", "gomodfetch")
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return nil, err
	}
	file := filepath.Join(dir, "serve-private.sum")
	sums, err := verify.ReadSums(file)
	if err != nil {
		return nil, fmt.Errorf("reading the record of private modules' hashes: %w", err)
	}
	v.Sums, v.RecordOnly = sums, v.SkipSumDB
	published := make(chan struct{})
	if bucket != nil {
		v.Shared = fleetRecord{bucket}
		// What this replica recorded before it shared a bucket (or while
		// the bucket was down) goes there too, in the background.
		go func() {
			defer close(published)
			publishRecord(ctx, fleetRecord{bucket}, sums.FileHashes(), v.SkipSumDB, logger)
		}()
	} else {
		close(published)
	}
	keep := func(m module.Version) bool { return v.SkipSumDB(m.Path) }
	flush := func() {
		if err := sums.WriteAdded(cache, keep); err != nil {
			logger.Warn("writing the record of private modules' hashes failed", "file", file, "error", err.Error())
		}
	}
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				flush()
			case <-done:
				return
			case <-ctx.Done():
				return
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
		<-published
		flush()
	}, nil
}

// publishRecord writes the hashes of this replica's record to the fleet's
// where it has none; a version the two record differently is logged (each
// replica keeps refusing what its own record does not hold).
func publishRecord(ctx context.Context, r fleetRecord, sums []verify.Sum, keep func(string) bool, logger *slog.Logger) {
	n := 0
	for _, s := range sums {
		if ctx.Err() != nil {
			return
		}
		if !keep(s.Mod.Path) {
			continue
		}
		rec, err := r.Agree(ctx, s.Mod, s.Hash)
		switch {
		case err != nil:
			logger.Warn("the record of private modules' hashes was not shared through the fleet bucket", "error", oneLineText(err.Error()))
			return
		case rec != s.Hash:
			logger.Error("the fleet's record and this replica's disagree; this replica keeps refusing bytes other than its own record's",
				"module", s.Mod.Path, "version", s.Mod.Version, "here", s.Hash, "fleet", rec)
		default:
			n++
		}
	}
	if n > 0 {
		logger.Info("record of private modules' hashes shared through the fleet bucket", "versions", n)
	}
}

// oneLineText is s's first line.
func oneLineText(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// fleetRecord is the first-hash record shared through the fleet bucket:
// one small object per module version (or go.mod key), written once
// (fleet.Cache.PutIfAbsent), holding its hash. Keys are hashes of the
// module path and version, so private paths are not named in the bucket.
type fleetRecord struct{ c *fleet.Cache }

// maxRecord bounds a record object: an h1: hash is 47 bytes.
const maxRecord = 256

func (r fleetRecord) key(mod module.Version) string {
	sum := sha256.Sum256([]byte(mod.Path + " " + mod.Version))
	return "gomodfetch/first-hash/" + hex.EncodeToString(sum[:])
}

func (r fleetRecord) Lookup(ctx context.Context, mod module.Version) (string, error) {
	data, err := r.c.ReadSmall(ctx, r.key(mod), maxRecord)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", err
	}
	h := strings.TrimSpace(string(data))
	if !strings.HasPrefix(h, "h1:") || strings.ContainsAny(h, " \n") {
		return "", fmt.Errorf("the fleet's record of %s@%s is not a hash", mod.Path, mod.Version)
	}
	return h, nil
}

func (r fleetRecord) Agree(ctx context.Context, mod module.Version, h string) (string, error) {
	if rec, err := r.Lookup(ctx, mod); err != nil || rec != "" {
		return rec, err
	}
	err := r.c.PutIfAbsent(ctx, r.key(mod), []byte(h+"\n"))
	if errors.Is(err, fleet.ErrExists) {
		// Another replica recorded it in the meantime: its hash holds.
		rec, err := r.Lookup(ctx, mod)
		if err == nil && rec == "" {
			err = fmt.Errorf("the fleet's record of %s@%s exists but cannot be read", mod.Path, mod.Version)
		}
		return rec, err
	}
	if err != nil {
		return "", err
	}
	return h, nil
}

// restrictWarning says which -restrict patterns GONOPROXY (default
// GOPRIVATE) does not cover while GOPROXY names proxies: their paths are
// asked of those proxies, in turn, by name, as the go command asks them.
func restrictWarning(restrict string, noProxy func(string) bool, proxies string) string {
	hasProxy := false
	for _, p := range strings.FieldsFunc(proxies, func(r rune) bool { return r == ',' || r == '|' }) {
		if p = strings.TrimSpace(p); p != "direct" && p != "off" && p != "" {
			hasProxy = true
		}
	}
	if !hasProxy {
		return ""
	}
	var uncovered []string
	for _, pat := range strings.Split(restrict, ",") {
		if pat = strings.TrimSpace(pat); pat != "" && !noProxy(pat) {
			uncovered = append(uncovered, pat)
		}
	}
	if len(uncovered) == 0 {
		return ""
	}
	return fmt.Sprintf("-restrict paths %s are not in GONOPROXY/GOPRIVATE: they are asked of the proxies in GOPROXY (%s) in turn, by name, until one has them; make sure the first of those is yours, or set GOPRIVATE to fetch them from version control",
		strings.Join(uncovered, ","), proxies)
}
