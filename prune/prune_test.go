package prune

import "testing"

func TestVersionFile(t *testing.T) {
	for _, tc := range []struct {
		name, version, suffix string
	}{
		{"v1.0.0.info", "v1.0.0", "info"},
		{"v1.0.0.mod", "v1.0.0", "mod"},
		{"v1.0.0.zip", "v1.0.0", "zip"},
		{"v1.0.0.ziphash", "v1.0.0", "ziphash"},
		{"v1.0.0.lock", "v1.0.0", "lock"},
		{"v1.0.0.partial", "v1.0.0", "partial"},
		{"v1.0.0.zip123456.tmp", "v1.0.0", "zip"},     // go's zip temp file
		{"v1.0.0.ziphash99.tmp", "v1.0.0", "ziphash"}, // ours
		{"v1.0.0.info42.tmp", "v1.0.0", "info"},       // go's .info temp file
		{"v1.0.0.mod.gmf7.tmp", "v1.0.0", "mod"},      // ours
		{"v1.0.0-a.zip.zip", "v1.0.0-a.zip", "zip"},   // a version with .zip in it
		{"v1.0.0-a.mod.info", "v1.0.0-a.mod", "info"}, // the longest reading wins
		{"v2.0.0+incompatible.mod", "v2.0.0+incompatible", "mod"},
		{"v1.0.0-!r!c1.info", "v1.0.0-RC1", "info"}, // escaped upper case
		{"list", "", ""},
		{"list.gmf1.tmp", "", ""},
		{"v1.0.0.zipx", "", ""},
		{"notaversion.mod", "", ""},
		{"v1.0.0.mod.bak", "", ""},
	} {
		v, s, ok := versionFile(tc.name)
		if v != tc.version || s != tc.suffix || ok != (tc.version != "") {
			t.Errorf("versionFile(%q) = %q, %q, %v; want %q, %q", tc.name, v, s, ok, tc.version, tc.suffix)
		}
	}
}
