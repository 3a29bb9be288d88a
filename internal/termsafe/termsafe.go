// Package termsafe keeps untrusted text from controlling a terminal.
//
// Everything a proxy, a checksum database, a bucket or a child process says
// is untrusted: an error body, a version echoed back, the go command's
// report of a version-control failure. Printed as it is, an ESC or BEL
// sequence sets the window title, moves the cursor or erases lines, and a
// carriage return overwrites what was printed before, so a hostile server
// could forge a success summary or hide a SECURITY ERROR.
//
// Two rules, applied at two places:
//
//   - Detail is the go command's rule for a server's error body: it is
//     shown only when it is valid UTF-8 and every character is graphic (or
//     a space, tab or newline), up to the first blank line, at most eight
//     lines and 648 bytes. Anything else is dropped whole.
//   - String, Writer and JSON escape what is left at the output boundary:
//     every character that is not graphic (other than newline and tab) is
//     shown as a Go escape (\x1b, \r, \u202e), so nothing reaches the
//     terminal as a control, and -json stays valid JSON with the same
//     decoded values.
package termsafe

import (
	"fmt"
	"io"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Detail limits, as the go command applies them to error bodies.
const (
	maxDetailLines = 8
	maxDetailBytes = maxDetailLines * 81
)

// Detail returns the part of a server's error body that may be shown to the
// user, tab-indented after its first line as the go command prints it, or ""
// when the body holds anything but graphic characters, spaces, tabs and
// newlines (a trailing "\r" on a line is taken as part of its line end).
func Detail(body []byte) string {
	s := string(body)
	if !utf8.ValidString(s) {
		return ""
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	for _, r := range s {
		if r != '\n' && !safe(r) {
			return ""
		}
	}
	var b strings.Builder
	for i, line := range strings.Split(strings.TrimLeft(s, "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			break
		}
		if i > 0 {
			b.WriteString("\n\t")
		}
		if i >= maxDetailLines {
			b.WriteString("[Truncated: too many lines.]")
			break
		}
		if b.Len()+len(line) > maxDetailBytes {
			b.WriteString("[Truncated: too long.]")
			break
		}
		b.WriteString(line)
	}
	return b.String()
}

// safe reports whether r may reach a terminal as it is: a graphic
// character (letters, marks, numbers, punctuation, symbols, spaces) or a
// tab. Newlines are the caller's business.
func safe(r rune) bool {
	return r == '\t' || (r != utf8.RuneError && unicode.IsGraphic(r))
}

// Clean reports whether s can be printed as it is (newlines allowed).
func Clean(s string) bool {
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n <= 1 {
			return false
		}
		if r != '\n' && !safe(r) {
			return false
		}
		i += n
	}
	return true
}

// String returns s with every character that could control a terminal
// escaped (newlines and tabs are kept): "\x1b]0;x\a" becomes
// `\x1b]0;x\a`. Bytes that are not UTF-8 become \xNN.
func String(s string) string {
	if Clean(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case r == '\n' || safe(r):
			b.WriteString(s[i : i+n])
		default:
			b.WriteString(escape(r))
		}
		i += n
	}
	return b.String()
}

func escape(r rune) string {
	switch r {
	case '\a':
		return `\a`
	case '\b':
		return `\b`
	case '\f':
		return `\f`
	case '\r':
		return `\r`
	case '\v':
		return `\v`
	}
	if r < 0x100 {
		return fmt.Sprintf(`\x%02x`, r)
	}
	if r < 0x10000 {
		return fmt.Sprintf(`\u%04x`, r)
	}
	return fmt.Sprintf(`\U%08x`, r)
}

// Writer returns a writer that escapes, as String does, everything written
// through it to w. Each Write is escaped on its own, so a caller should
// write whole messages (as fmt.Fprintf does).
func Writer(w io.Writer) io.Writer { return &writer{w} }

type writer struct{ w io.Writer }

func (w *writer) Write(p []byte) (int, error) {
	s := string(p)
	if Clean(s) {
		return w.w.Write(p)
	}
	if _, err := io.WriteString(w.w, String(s)); err != nil {
		return 0, err
	}
	return len(p), nil
}

// JSON escapes, as \uXXXX, the characters that encoding/json leaves raw in
// its output but that a terminal may act on (DEL, C1 controls, format
// characters such as U+202E). They can only stand inside JSON strings, so
// the result is valid JSON with the same decoded values.
func JSON(b []byte) []byte {
	s := string(b)
	if Clean(s) {
		return b
	}
	var out strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case r == utf8.RuneError && n <= 1:
			out.WriteString(`\ufffd`) // encoding/json never writes invalid UTF-8
		case r == '\n' || safe(r):
			out.WriteString(s[i : i+n])
		case r < 0x10000:
			fmt.Fprintf(&out, `\u%04x`, r)
		default:
			r1, r2 := utf16Pair(r)
			fmt.Fprintf(&out, `\u%04x\u%04x`, r1, r2)
		}
		i += n
	}
	return []byte(out.String())
}

func utf16Pair(r rune) (rune, rune) {
	r -= 0x10000
	return 0xd800 + (r>>10)&0x3ff, 0xdc00 + r&0x3ff
}
