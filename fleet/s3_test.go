package fleet

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// testS3URL is an s3:// URL, with a prefix of its own, on the test S3
// server .ci/run starts (VersityGW, real SigV4), with its read-write
// account's credentials in the environment; "" (logged) without one,
// except under CI=true, where that fails t. See fleet_test.go at the root.
func testS3URL(t *testing.T) string {
	endpoint, bucket := os.Getenv("GOMODFETCH_TEST_S3_ENDPOINT"), os.Getenv("GOMODFETCH_TEST_S3_BUCKET")
	key, secret := os.Getenv("GOMODFETCH_TEST_S3_KEY"), os.Getenv("GOMODFETCH_TEST_S3_SECRET")
	if endpoint == "" || bucket == "" || key == "" || secret == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but GOMODFETCH_TEST_S3_{ENDPOINT,BUCKET,KEY,SECRET} not set: .ci/run starts the S3 server")
		}
		t.Skip("GOMODFETCH_TEST_S3_{ENDPOINT,BUCKET,KEY,SECRET} not set (.ci/run starts an S3 server)")
	}
	t.Setenv("AWS_ACCESS_KEY_ID", key)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", os.DevNull)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
	q := url.Values{}
	q.Set("endpoint", endpoint)
	q.Set("region", "us-east-1")
	q.Set("use_path_style", "true")
	q.Set("prefix", fmt.Sprintf("%s-%d/", t.Name(), time.Now().UnixNano()))
	return "s3://" + bucket + "?" + q.Encode()
}

// A zip over 8 MiB, written (in parts) and read back through a real S3
// server: nothing but what the Cache reports itself reaches stderr.
// (VersityGW does not answer with the composite checksum that makes the
// SDK warn "Skipped validation of multipart checksum", as AWS does:
// TestS3SDKSilent has the loopback front answer so.)
func TestS3LargeObjectQuiet(t *testing.T) {
	u := testS3URL(t)
	stderr := captureStderr(t)
	s, err := Open(context.Background(), Config{URL: u})
	if err != nil {
		t.Fatal(err)
	}
	big := make([]byte, 9<<20)
	rand.Read(big)
	file := filepath.Join(t.TempDir(), "zip")
	if err := os.WriteFile(file, big, 0o666); err != nil {
		t.Fatal(err)
	}
	s.PutFile("m/@v/v1.0.0.zip", file)
	if n := s.Close(context.Background(), 30*time.Second); n != 0 || s.Stats().Writes != 1 {
		t.Fatalf("Close dropped %d; stats %+v", n, s.Stats())
	}
	s, err = Open(context.Background(), Config{URL: u})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close(context.Background(), 0)
	var b bytes.Buffer
	if err := s.Read(context.Background(), "m/@v/v1.0.0.zip", &b, 10<<20); err != nil || !bytes.Equal(b.Bytes(), big) {
		t.Fatalf("Read = %d bytes, %v", b.Len(), err)
	}
	if out := stderr(); out != "" {
		t.Fatalf("stderr = %q, want nothing", out)
	}
}
