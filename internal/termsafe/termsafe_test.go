package termsafe

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestDetail(t *testing.T) {
	long := strings.Repeat("x", 700)
	tests := []struct {
		name, body, want string
	}{
		{"plain", "not found: example.com/m@v1.0.0\n", "not found: example.com/m@v1.0.0"},
		{"lines", "a\nb\n", "a\n\tb"},
		{"crlf", "a\r\nb\r\n", "a\n\tb"},
		{"blank line ends", "a\n\nb\n", "a"},
		{"escape dropped", "ok\x1b]0;pwned\a\n", ""},
		{"bare cr dropped", "404\rgomodfetch: 29 modules (29 downloaded, 0 failed)\n", ""},
		{"bidi dropped", "a\u202eb\n", ""},
		{"not utf8 dropped", "a\xffb", ""},
		{"nine lines", "1\n2\n3\n4\n5\n6\n7\n8\n9\n", "1\n\t2\n\t3\n\t4\n\t5\n\t6\n\t7\n\t8\n\t[Truncated: too many lines.]"},
		{"too long", long + "\n", "[Truncated: too long.]"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Detail([]byte(tt.body)); got != tt.want {
				t.Errorf("Detail(%q) = %q, want %q", tt.body, got, tt.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain text\n\twith tab", "plain text\n\twith tab"},
		{"\x1b]0;title\a", `\x1b]0;title\a`},
		{"a\rb", `a\rb`},
		{"\x7f\u009b", `\x7f\x9b`},
		{"a\u202eb", `a\u202eb`},
		{"bad \xff byte", `bad \xff byte`},
		{"ünïcödé ok", "ünïcödé ok"},
	}
	for _, tt := range tests {
		if got := String(tt.in); got != tt.want {
			t.Errorf("String(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestWriter(t *testing.T) {
	var buf bytes.Buffer
	w := Writer(&buf)
	n, err := w.Write([]byte("gomodfetch: \x1b[2Kx\n"))
	if err != nil || n != len("gomodfetch: \x1b[2Kx\n") {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if got, want := buf.String(), "gomodfetch: \\x1b[2Kx\n"; got != want {
		t.Errorf("wrote %q, want %q", got, want)
	}
}

func TestJSON(t *testing.T) {
	v := map[string]string{"Error": "a\x1b\r\x7f\u009b\u202e\U0001F600b"}
	b, err := json.MarshalIndent(v, "", "\t")
	if err != nil {
		t.Fatal(err)
	}
	out := JSON(b)
	if !Clean(string(out)) {
		t.Fatalf("JSON left unsafe characters: %q", out)
	}
	var back map[string]string
	if err := json.Unmarshal(out, &back); err != nil {
		t.Fatalf("JSON output is not valid JSON: %v\n%s", err, out)
	}
	if back["Error"] != v["Error"] {
		t.Errorf("decoded %q, want %q", back["Error"], v["Error"])
	}
}
