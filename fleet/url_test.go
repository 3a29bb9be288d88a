package fleet

import (
	"context"
	"os"
	"strings"
	"testing"
)

func TestCheckURL(t *testing.T) {
	for _, c := range []struct {
		name, url, err string // err: "" for none, else a part of it
	}{
		{"s3", "s3://b?region=us-east-1", ""},
		{"s3 endpoint", "s3://b?region=us-east-1&endpoint=https://s3.example.com", ""},
		{"s3 IP path style", "s3://b?endpoint=http://127.0.0.1:9000&use_path_style=true", ""},
		{"s3 IP hostname immutable", "s3://b?endpoint=http://10.0.0.1:9000&hostname_immutable=true", ""},
		{"gs", "gs://b?prefix=x/", ""},
		{"file", "file://" + os.TempDir(), ""},
		{"file create_dir", "file:///nonexistent/gomodfetch-bucket?create_dir=true&prefix=a/b/", ""},
		{"file missing dir", "file:///nonexistent/gomodfetch-bucket", "is not a directory"},
		{"file unknown parameter", "file://" + os.TempDir() + "?bogus=1", `unknown file:// parameter "bogus"`},
		{"file prefix out", "file://" + os.TempDir() + "?prefix=../../", "not a path below"},
		{"endpoint without scheme", "s3://b?endpoint=s3.example.com", "not an http:// or https:// URL"},
		{"endpoint IP without path style", "s3://b?endpoint=http://127.0.0.1:9000", "add use_path_style=true"},
		{"endpoint localhost without path style", "s3://b?endpoint=http://localhost:9000", "add use_path_style=true"},
		{"endpoint IPv6 without path style", "s3://b?endpoint=http://[::1]:9000", "add use_path_style=true"},
		{"endpoint ftp", "s3://b?endpoint=ftp://h", "not an http:// or https:// URL"},
		{"path style not a bool", "s3://b?use_path_style=yes", "not true or false"},
		{"no bucket", "s3://?region=x", "no bucket name"},
		{"no scheme", "my-bucket", "no scheme"},
		{"unknown scheme", "minio://b", `unknown scheme "minio"`},
		{"malformed", "s3://b\x7f", "not a URL"},
		{"bad query", "s3://b?region=%zz", "bad query"},
		{"relative file", "file://dir/x", "absolute directory"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := CheckURL(c.url)
			switch {
			case c.err == "" && err != nil:
				t.Fatalf("CheckURL(%q) = %v", c.url, err)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Fatalf("CheckURL(%q) = %v, want an error with %q", c.url, err, c.err)
			}
			if c.err != "" {
				if _, err := Open(context.Background(), Config{URL: c.url}); err == nil {
					t.Fatalf("Open(%q) succeeded", c.url)
				}
			}
		})
	}
}
