// Package faultproxy is the one module proxy that gomodfetch's tests and
// its benchmark talk to when they want the network to misbehave.
//
// gomodfetch is judged by what it does when a GOPROXY is slow, far away,
// flaky or lying, and by how fast it is when the proxy is merely far away.
// Both questions need a proxy under the test's control: one that answers
// like proxy.golang.org (whole files, byte ranges, ETags) but can also be
// told to wait, to cut a body short, to reset a connection, to flip bytes
// or to send terminal escapes, and that reports what it was asked for.
// This package is that proxy, built from a few pieces that compose:
//
//   - a source: a GOPROXY file tree on disk (Options.Dir), or another
//     proxy's URL whose answers are fetched and passed on (Options.Backend,
//     typically a goproxytest server);
//   - the answer built from it: 200 with an ETag and Accept-Ranges, or 206
//     for a single "Range: bytes=a-b" (with If-Range checked against the
//     ETag), or 416 for a range past the end;
//   - an emulated network (Network): a round trip before every response,
//     one more for every new connection, bodies paced to a per-connection
//     and a whole-link bandwidth;
//   - fault Rules, read from a small text format (see ParseRules) that the
//     testscript files use: "*.zip truncate x2" cuts the first two zips in
//     half;
//   - a stall hook (StallAt, Release): the next response for a path stops
//     after N body bytes, or before its headers, and a channel says when,
//     so a test can kill the client at exactly that point;
//   - a record: every request line (Log, Count), counters of requests,
//     body bytes and connections (Stats), the most requests in flight at
//     once (MaxInFlight), the size of every response served whole
//     (Served), when a path's last body was written out (Finished) and
//     which responses reset-file-at rules cut (Cuts).
//
// The testscript harness in the root package starts two Servers in front
// of a goproxytest server, loads each script's faults file into them and
// checks their logs; the crash tests start one per kill point and stall it
// where the process is to die; the benchmark (go run ./bench) serves its
// generated module tree straight from disk with Network set to a far-away
// link and reads Stats after every run. DeadURL gives an address where
// nothing listens at all.
//
// Everything listens on 127.0.0.1:0. Every injected wait is bounded by
// MaxStall and ends early when the client goes away or the Server closes;
// Close returns only when every goroutine the Server started has ended,
// hijacked connections included. The package does not import testing:
// the benchmark is an ordinary program.
package faultproxy
