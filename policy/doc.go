// Package policy decides which module versions a proxy may serve and a
// download may land: one supply-chain policy, enforced the same way by
// `gomodfetch serve` and by the CLI's download step.
//
// A policy is a small line-based file (see docs/policy.md for the whole
// format): deny, warn and allow lines by module path pattern (the
// GOPRIVATE glob syntax, module.MatchPrefixPatterns) and version range
// (">=v1.2.0 <v1.4.0", "pseudo", "||"), a default, a release cooldown,
// what to do with known vulnerabilities, and exceptions that let a denied
// version through on purpose until a date. Every deny, warn, allow and
// except line carries a reason, and every decision names the line that
// made it. The lines do not depend on their order: any deny beats any
// allow, and only an exception, which must expire, lets a denied version
// through.
//
// Three things are consulted for each version, and the most severe
// finding decides (Gate.Check):
//
//   - the rules: a matching deny line denies, a warn line warns, and under
//     "default deny" a version no allow line matches is denied;
//   - the Go vulnerability database (VulnDB, read in its published OSV
//     format from https://, a directory or a zip): an entry that affects
//     the version denies or warns as the vulns lines say, unless an
//     exception names its ID;
//   - the cooldown: a version released less than the cooldown ago is not
//     offered (hidden from lists, not chosen as latest, refused when asked
//     for exactly) unless an exception covers it.
//
// # Which release time is trusted
//
// The go command's only record of when a version appeared is the Time in
// its .info, and that is weak twice over: the proxy that serves .info
// supplies it and no checksum covers it, and for a tagged version it is
// the committer time of the tagged commit (cmd/go runs git log with %ct),
// which whoever made the commit chose. A maintainer's hijacked account can
// push a malicious tag on a commit dated last year, which is exactly the
// release a cooldown exists to hold back. The checksum database proves
// the order in which versions were first seen (its log only grows) but
// carries no time: the position of a version's record says when it was
// added only relative to tree heads someone observed at known times.
//
// So the package does not pick the time itself: the caller passes a
// TimeFunc, and this is what each caller trusts. The CLI, which has no
// history, uses the .info Time (from the module cache, else its GOPROXY
// list, asked for before the decision and not cached): it holds back the
// releases whose commit is recent (the common case of a compromised
// release built from a fresh commit) and cannot see through a backdated
// commit. serve counts from the later of the .info Time and the time
// serve itself first saw the version in an upstream list (Seen keeps that
// record; docs/policy.md shows the wiring): a version first seen
// today is held for the full cooldown whatever its commit says. Versions
// that were already there the first time serve listed a module have no
// first-seen time of their own and fall back to the .info Time; that
// first listing is the window the record cannot cover.
//
// # Concurrency and reloads
//
// A *Policy is immutable. A Watcher holds the last good version of a file
// and swaps in a new one atomically when the file changes and parses; a
// bad edit leaves the old policy in force and reports the error, naming
// file:line and what to fix. A Gate reads its Source once per decision,
// so one decision never mixes two versions of the file.
//
// The package prints nothing and never exits: callers log decisions,
// count them and shape them into HTTP answers or CLI errors. Every string
// a decision carries that came from outside (the vulnerability database,
// a request) is made safe to print (internal/termsafe).
package policy
