package serve

import (
	"context"
	"net/http"
	"time"

	"golang.org/x/mod/module"

	"gomodfetch/policy"
)

// Policy: with Config.Policy set, serve offers only what the team's
// supply-chain policy allows (docs/policy.md): a version list without the
// versions it denies (so @upgrade and @patch, which the go command works
// out from the list, choose among allowed ones), @latest among allowed
// versions, and a version's .info and .zip refused with 403 and the
// reason as a short text/plain body, which the go command prints to its
// user and does not fall through a ',' GOPROXY list on (only 404 and 410
// do). A .mod is always served: minimum version selection reads the
// go.mod of versions it then passes over. With Config.PolicyDryRun the
// decisions are logged and counted ("would deny"), and everything is
// served as without a policy.

// timeOf is the release time the policy's cooldown trusts for path's
// versions: the later of the .info Time and when this server first saw
// the version (Config.Seen), so that a backdated tag still waits.
//
// A .info not in the cache is fetched for who, the client waiting for the
// decision.
func (s *Server) timeOf(who requester, path string) policy.TimeFunc {
	return func(ctx context.Context, v string) (time.Time, error) {
		mod := module.Version{Path: path, Version: v}
		info, _, err := s.cfg.Cache.ReadInfo(mod)
		if err != nil {
			if _, err := s.ensureInfo(ctx, who, mod); err != nil {
				return time.Time{}, err
			}
			if info, _, err = s.cfg.Cache.ReadInfo(mod); err != nil {
				return time.Time{}, err
			}
		}
		if s.cfg.Seen != nil {
			return s.cfg.Seen.ReleaseTime(path, v, info.Time), nil
		}
		return info.Time, nil
	}
}

// observe records a module's whole version list as seen now (for the
// cooldown): the first list of a module marks what it holds as older than
// the record; a version in a later list that was not in an earlier one is
// new. Single versions asked for are not observed, or the first of them
// would make the module's older versions look new at its first list.
func (s *Server) observe(path string, versions ...string) {
	if s.cfg.Seen != nil {
		if err := s.cfg.Seen.Observe(path, versions, time.Now()); err != nil {
			s.limits.note("policy-seen", "recording first-seen times failed: "+oneLine(err.Error(), 200), "")
		}
	}
}

// decided counts and logs a decision that is not a plain allow; it
// reports whether the request must be refused.
func (s *Server) decided(w *recorder, endpoint string, d policy.Decision) bool {
	if d.Action == policy.Allow && len(d.Warnings) == 0 {
		return false
	}
	dry := s.cfg.PolicyDryRun
	action := d.Action.String()
	s.metrics.policy.WithLabelValues(action, d.Kind, endpoint, boolLabel(dry)).Inc()
	msg := d.Message()
	switch {
	case d.Action == policy.Deny && dry:
		s.log.Warn("policy: would deny", "endpoint", endpoint, "decision", msg, "remote", w.remote)
		return false
	case d.Action == policy.Deny:
		s.log.Warn("policy: denied", "endpoint", endpoint, "decision", msg, "remote", w.remote)
		return true
	default:
		s.log.Warn("policy: warning", "endpoint", endpoint, "decision", msg, "remote", w.remote)
		return false
	}
}

func boolLabel(b bool) string {
	if b {
		return "true"
	}
	return "false"
}

// refused answers a request the policy refuses: 403, the decision's
// message as the body.
func (s *Server) refused(w *recorder, d policy.Decision) {
	w.outcome = "policy"
	w.fail(http.StatusForbidden, d.Message())
}

// checkVersion applies the policy to an exact version asked for (its
// .info or .zip, or what a query resolved to); false means it was refused
// and answered.
func (s *Server) checkVersion(w *recorder, r *http.Request, endpoint, path, v string) bool {
	if s.cfg.Policy == nil {
		return true
	}
	d := s.cfg.Policy.Check(r.Context(), path, v, s.timeOf(client(r), path))
	if s.decided(w, endpoint, d) {
		s.refused(w, d)
		return false
	}
	return true
}

// filterList hides from a version list what the policy denies.
func (s *Server) filterList(w *recorder, r *http.Request, path string, list []string) []string {
	if s.cfg.Policy == nil {
		return list
	}
	s.observe(path, list...)
	kept, hidden := s.cfg.Policy.FilterList(r.Context(), path, list, s.timeOf(client(r), path))
	for _, d := range hidden {
		s.decided(w, "list", d)
	}
	if s.cfg.PolicyDryRun {
		return list
	}
	return kept // served no-cache, like every list: hidden versions reappear when they may
}
