package errline

import (
	"errors"
	"testing"
)

func TestFirst(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"one line", "reading x: EOF", "reading x: EOF"},
		{"several lines", "verifying a@v1: checksum mismatch\n\tdownloaded: h1:x\n\tgo.sum: h1:y", "verifying a@v1: checksum mismatch"},
		{"leading newline", "\nrest", ""},
	} {
		if got := First(errors.New(tc.in)); got != tc.want {
			t.Errorf("%s: First(%q) = %q, want %q", tc.name, tc.in, got, tc.want)
		}
	}
}
