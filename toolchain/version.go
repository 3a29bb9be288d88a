// Package toolchain knows Go toolchain versions as the go command compares
// them ("1.21" < "1.21rc1" < "1.21.0" < "1.21.1"), which go the installed
// toolchain is, and which toolchain GOTOOLCHAIN and a go.mod select.
package toolchain

import (
	"bytes"
	"os"
	"path/filepath"
	"runtime"
	"strings"
)

// version is a parsed Go version: major.minor[.patch] or
// major.minor<kind>[N] (kind: alpha, beta, rc, ...).
type version struct {
	major, minor, patch, kind, pre string
}

// parse splits a Go version ("1.21", "1.21.3", "1.22rc1"); ok is false for
// anything else.
func parse(v string) (x version, ok bool) {
	if x.major, v, ok = cutInt(v); !ok {
		return version{}, false
	}
	if v == "" {
		x.minor, x.patch = "0", "0" // "1" is "1.0.0"
		return x, true
	}
	if v[0] != '.' {
		return version{}, false
	}
	if x.minor, v, ok = cutInt(v[1:]); !ok {
		return version{}, false
	}
	if v == "" {
		if cmpInt(x.minor, "21") < 0 {
			x.patch = "0" // before 1.21, "1.20" is the release 1.20.0
		}
		return x, true
	}
	if v[0] == '.' {
		if x.patch, v, ok = cutInt(v[1:]); !ok || v != "" {
			return version{}, false
		}
		return x, true
	}
	i := 0
	for i < len(v) && (v[i] < '0' || v[i] > '9') {
		if v[i] < 'a' || v[i] > 'z' {
			return version{}, false
		}
		i++
	}
	if i == 0 {
		return version{}, false
	}
	x.kind, v = v[:i], v[i:]
	if v == "" {
		return x, true
	}
	if x.pre, v, ok = cutInt(v); !ok || v != "" {
		return version{}, false
	}
	return x, true
}

func cutInt(s string) (n, rest string, ok bool) {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == 0 || (s[0] == '0' && i > 1) {
		return "", "", false
	}
	return s[:i], s[i:], true
}

// cmpInt compares decimal numbers; "" is lower than any.
func cmpInt(a, b string) int {
	if len(a) != len(b) {
		if len(a) < len(b) {
			return -1
		}
		return 1
	}
	return strings.Compare(a, b)
}

// Compare compares Go versions a and b as the go command does: "1.21" <
// "1.21rc1" < "1.21.0"; an invalid version is lower than every valid one.
func Compare(a, b string) int {
	x, _ := parse(a)
	y, _ := parse(b)
	for _, c := range []int{cmpInt(x.major, y.major), cmpInt(x.minor, y.minor), cmpInt(x.patch, y.patch), strings.Compare(x.kind, y.kind), cmpInt(x.pre, y.pre)} {
		if c != 0 {
			return c
		}
	}
	return 0
}

// IsValid reports whether v is a Go version.
func IsValid(v string) bool {
	_, ok := parse(v)
	return ok
}

// Lang is v's language version ("1.21.3" → "1.21").
func Lang(v string) string {
	x, ok := parse(v)
	if !ok {
		return ""
	}
	return x.major + "." + x.minor
}

// FromToolchain returns the Go version of a toolchain name ("go1.21.3",
// "go1.22rc1-custom", "gccgo-go1.21"), or "" if it names none.
func FromToolchain(name string) string {
	if strings.ContainsAny(name, "\\/") {
		return ""
	}
	var v string
	if strings.HasPrefix(name, "go") {
		v = name[2:]
	} else if _, after, ok := strings.Cut(name, "-go"); ok {
		v = after
	} else {
		return ""
	}
	// A suffix after the version ("go1.21.3-custom") is ignored.
	if i := strings.IndexAny(v, "-+ "); i >= 0 {
		v = v[:i]
	}
	if !IsValid(v) {
		return ""
	}
	return v
}

// Local returns the version of the installed go command (its GOROOT's
// VERSION file, "go1.26.8" → "1.26.8"), or, when that cannot be read, the
// version gomodfetch was built with.
func Local(goroot string) string {
	if goroot != "" {
		if data, err := os.ReadFile(filepath.Join(goroot, "VERSION")); err == nil {
			first, _, _ := strings.Cut(string(data), "\n")
			if v := FromToolchain(strings.TrimSpace(first)); v != "" {
				return v
			}
		}
	}
	if v := FromToolchain(runtime.Version()); v != "" {
		return v
	}
	return "1.26.0"
}

// GoModLookup returns the value of a go.mod's first line for key ("go",
// "toolchain"), read as go reads it to pick a toolchain or check a
// dependency's go line (cmd/go's gover.GoModLookup): line by line, without
// parsing the file.
func GoModLookup(data []byte, key string) string {
	for len(data) > 0 {
		var line []byte
		line, data, _ = bytes.Cut(data, []byte("\n"))
		rest, ok := strings.CutPrefix(string(bytes.TrimSpace(line)), key)
		if !ok || rest == "" || (rest[0] != ' ' && rest[0] != '\t') {
			continue
		}
		rest, _, _ = strings.Cut(rest, "//")
		return strings.TrimSpace(rest)
	}
	return ""
}
