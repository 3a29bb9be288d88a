package main

import (
	"strings"
	"testing"
	"time"

	"gomodfetch/policy"
)

// The step summary's policy section counts and lists the decisions, and
// text from the policy file or the vulnerability database cannot break
// out of its list item (no markup, no new line, no control character).
func TestPolicyReportMarkdown(t *testing.T) {
	deny := policy.Decision{Path: "example.com/x", Version: "v1.2.3", Action: policy.Deny, Kind: "vuln", IDs: []string{"GO-2026-1234"}, FixedIn: "v1.2.4"}
	warn := policy.Decision{Path: "example.com/`y|", Version: "v1.0.0", Action: policy.Warn, Kind: "rule", Rule: "p.txt:3",
		Reason: "see <script>alert(1)</script> | **bold**\n# heading \x1b[31mred"}
	r := &policyReport{File: "/etc/p.txt", Checked: 7, Denied: 1, Warned: 1, VulnDB: "vulndb", VulnDBModified: time.Date(2026, 3, 4, 0, 0, 0, 0, time.UTC)}
	for _, d := range []policy.Decision{deny, warn} {
		r.Decisions = append(r.Decisions, reportDecision{d, d.Message()})
	}
	md := r.markdown()
	for _, want := range []string{
		"**Policy** `p.txt`: 7 module versions checked, 1 denied, 1 warnings · vulnerability database vulndb (modified 2026-03-04T00:00:00Z)\n",
		"- ⛔ `example.com/x@v1.2.3`: gomodfetch policy: example.com/x@v1.2.3: GO-2026-1234 \\(denied; fixed in v1.2.4\\)\n",
		"- ⚠️ `example.com/?y?@v1.0.0`: ",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown lacks %q:\n%s", want, md)
		}
	}
	for _, bad := range []string{"<script>", "**bold**", "\n# heading", "\x1b"} {
		if strings.Contains(md, bad) {
			t.Errorf("markdown holds %q unescaped:\n%s", bad, md)
		}
	}
	if lines := strings.Count(md, "\n- "); lines != 2 {
		t.Errorf("%d list items, want 2:\n%s", lines, md)
	}
	var nilReport *policyReport
	if nilReport.markdown() != "" {
		t.Error("no policy: a section anyway")
	}
}
