package main

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/rogpeppe/go-internal/gotooltest"
	"github.com/rogpeppe/go-internal/testscript"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/s3blob"

	"gomodfetch/internal/fakegcs"
)

// The S3 server the fleet tests use, started by .ci/run on loopback
// (VersityGW, real SigV4): a bucket, an account that owns it (reads and
// writes) and one that may only read it, through the bucket policy
// s3Server.grantReadOnly sets. Without GOMODFETCH_TEST_S3_ENDPOINT the
// scripts that need it skip ([s3] condition), except under CI=true, where
// that is a failure.
const (
	envS3Endpoint = "GOMODFETCH_TEST_S3_ENDPOINT"  // http://127.0.0.1:PORT
	envS3Bucket   = "GOMODFETCH_TEST_S3_BUCKET"    // an existing bucket
	envS3Key      = "GOMODFETCH_TEST_S3_KEY"       // the bucket owner's key id
	envS3Secret   = "GOMODFETCH_TEST_S3_SECRET"    // and secret
	envS3ROKey    = "GOMODFETCH_TEST_S3_RO_KEY"    // a read-only account's key id
	envS3ROSecret = "GOMODFETCH_TEST_S3_RO_SECRET" // and secret
)

// s3Server is the test S3 server, from the environment.
type s3Server struct {
	endpoint, bucket string
	key, secret      string // read-write
	roKey, roSecret  string // read-only
}

// testS3 returns the test S3 server, or nil (with the reason logged)
// when the environment names none; under CI=true that fails t.
func testS3(t *testing.T) *s3Server {
	s := &s3Server{
		endpoint: os.Getenv(envS3Endpoint), bucket: os.Getenv(envS3Bucket),
		key: os.Getenv(envS3Key), secret: os.Getenv(envS3Secret),
		roKey: os.Getenv(envS3ROKey), roSecret: os.Getenv(envS3ROSecret),
	}
	var missing []string
	for _, v := range []struct{ name, val string }{
		{envS3Endpoint, s.endpoint}, {envS3Bucket, s.bucket}, {envS3Key, s.key},
		{envS3Secret, s.secret}, {envS3ROKey, s.roKey}, {envS3ROSecret, s.roSecret},
	} {
		if v.val == "" {
			missing = append(missing, v.name)
		}
	}
	if len(missing) == 0 {
		s3PolicyOnce.Do(func() { s3PolicyErr = s.grantReadOnly() })
		if s3PolicyErr != nil {
			t.Fatalf("granting the read-only account read access: %v", s3PolicyErr)
		}
		return s
	}
	if os.Getenv("CI") == "true" {
		t.Fatalf("CI=true but %v not set: .ci/run starts the S3 server the fleet tests need", missing)
	}
	t.Logf("%v not set: the tests needing the S3 server skip (.ci/run starts one)", missing)
	return nil
}

var (
	s3PolicyOnce sync.Once
	s3PolicyErr  error
)

// grantReadOnly lets the read-only account read the bucket (GetObject,
// and ListBucket so that a missing key answers 404) and nothing more, by
// the bucket policy docs/fleet-cache.md gives, set as the owner.
func (s *s3Server) grantReadOnly() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	client := s3.New(s3.Options{
		Region:       "us-east-1",
		BaseEndpoint: aws.String(s.endpoint),
		UsePathStyle: true,
		Credentials:  credentials.NewStaticCredentialsProvider(s.key, s.secret, ""),
	})
	// (VersityGW, unlike AWS, then checks the owner against the policy
	// too: the owner's statement stands for its IAM policy on AWS.)
	policy := fmt.Sprintf(`{"Version":"2012-10-17","Statement":[`+
		`{"Effect":"Allow","Principal":{"AWS":[%[1]q]},"Action":["s3:GetObject","s3:ListBucket"],"Resource":["arn:aws:s3:::%[3]s","arn:aws:s3:::%[3]s/*"]},`+
		`{"Effect":"Allow","Principal":{"AWS":[%[2]q]},"Action":["s3:*"],"Resource":["arn:aws:s3:::%[3]s","arn:aws:s3:::%[3]s/*"]}]}`, s.roKey, s.key, s.bucket)
	_, err := client.PutBucketPolicy(ctx, &s3.PutBucketPolicyInput{Bucket: aws.String(s.bucket), Policy: aws.String(policy)})
	return err
}

// TestFleetScripts runs testscript/fleet/*.txtar with TestScripts's
// environment plus:
//
//	$S3URL      a -cache-url on the test S3 server, with a prefix of its own
//	            for each script (only under [s3]), whose read-write account
//	            ($S3RWKEY, $S3RWSECRET) is in AWS_ACCESS_KEY_ID and
//	            AWS_SECRET_ACCESS_KEY, and its read-only account's
//	            $S3ROKEY, $S3ROSECRET
//	$DEADS3     an s3:// URL whose endpoint refuses connections
//	$STALLEDS3  an s3:// URL whose endpoint accepts and never answers
//	$GSURL      a gs:// -cache-url, with a prefix of its own, on a fake GCS
//	            (internal/fakegcs) on loopback, which STORAGE_EMULATOR_HOST
//	            points the gs:// driver at
//
// and the commands s3obj and gsobj (get|put|rm) to reach the objects under
// $S3URL and $GSURL.
func TestFleetScripts(t *testing.T) {
	srv := testS3(t)
	stalled, err := stalledEndpoint(t)
	if err != nil {
		t.Fatal(err)
	}
	dead, err := deadEndpoint()
	if err != nil {
		t.Fatal(err)
	}
	gcs := httptest.NewServer(fakegcs.New("gomodfetch-test"))
	t.Cleanup(gcs.Close) // after the parallel scripts, not when this returns
	p := testscript.Params{
		Dir: filepath.Join("testscript", "fleet"),
		Setup: withTrust(func(env *testscript.Env) error {
			if err := setupScript(env); err != nil {
				return err
			}
			// Credentials the S3 SDK reads: the bucket owner's ($S3ROKEY
			// and $S3ROSECRET are the read-only account's); the dead and
			// stalled endpoints take any.
			env.Setenv("AWS_ACCESS_KEY_ID", "gomodfetch")
			env.Setenv("AWS_SECRET_ACCESS_KEY", "gomodfetch-secret")
			env.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			env.Setenv("AWS_CONFIG_FILE", os.DevNull)
			env.Setenv("AWS_SHARED_CREDENTIALS_FILE", os.DevNull)
			env.Setenv("DEADS3", s3URL("fleet", dead, ""))
			env.Setenv("STALLEDS3", s3URL("fleet", stalled, ""))
			env.Setenv("STORAGE_EMULATOR_HOST", gcs.Listener.Addr().String())
			env.Setenv("GSURL", fmt.Sprintf("gs://gomodfetch-test?prefix=%s-%d/", filepath.Base(env.WorkDir), time.Now().UnixNano()))
			if srv != nil {
				prefix := fmt.Sprintf("%s-%d/", filepath.Base(env.WorkDir), time.Now().UnixNano())
				env.Setenv("S3URL", s3URL(srv.bucket, srv.endpoint, prefix))
				env.Setenv("AWS_ACCESS_KEY_ID", srv.key)
				env.Setenv("AWS_SECRET_ACCESS_KEY", srv.secret)
				env.Setenv("S3RWKEY", srv.key)
				env.Setenv("S3RWSECRET", srv.secret)
				env.Setenv("S3ROKEY", srv.roKey)
				env.Setenv("S3ROSECRET", srv.roSecret)
			}
			return nil
		}),
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"cmpcache":  cmdCmpCache,
			"proxyreqs": cmdProxyReqs,
			"proxylog":  cmdProxyLog,
			"s3obj":     cmdS3Obj,
			"gsobj":     cmdGSObj,
		},
		Condition: func(cond string) (bool, error) {
			if cond == "s3" {
				return srv != nil, nil
			}
			return false, fmt.Errorf("unknown condition %q", cond)
		},
		RequireExplicitExec: true,
	}
	maps.Copy(p.Cmds, trustCmds)
	maps.Copy(p.Cmds, serveCmds)
	if err := gotooltest.Setup(&p); err != nil {
		t.Fatal(err)
	}
	testscript.Run(t, p)
}

func s3URL(bucketName, endpoint, prefix string) string {
	q := url.Values{}
	q.Set("endpoint", endpoint)
	q.Set("region", "us-east-1")
	q.Set("use_path_style", "true")
	if prefix != "" {
		q.Set("prefix", prefix)
	}
	return "s3://" + bucketName + "?" + q.Encode()
}

// deadEndpoint returns the URL of a loopback address that refuses
// connections.
func deadEndpoint() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return "http://" + ln.Addr().String(), nil
}

// stalledEndpoint returns the URL of a loopback server that accepts
// connections and never answers, closed when t ends.
func stalledEndpoint(t *testing.T) (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
	)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c) // held open, unread, until the end
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	return "http://" + ln.Addr().String(), nil
}

// s3obj get key file | put key file | rm key: an object under $S3URL.
func cmdS3Obj(ts *testscript.TestScript, neg bool, args []string) {
	// The SDK reads credentials from the process environment.
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_EC2_METADATA_DISABLED"} {
		os.Setenv(k, ts.Getenv(k))
	}
	bucketObj(ts, "s3obj", "S3URL", neg, args)
}

// gsobj get key file | put key file | rm key: an object under $GSURL.
func cmdGSObj(ts *testscript.TestScript, neg bool, args []string) {
	os.Setenv("STORAGE_EMULATOR_HOST", ts.Getenv("STORAGE_EMULATOR_HOST"))
	bucketObj(ts, "gsobj", "GSURL", neg, args)
}

// bucketObj is the command name, on the bucket at $urlVar.
func bucketObj(ts *testscript.TestScript, name, urlVar string, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: %s get|put key file | %s rm key", name, name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	b, err := blob.OpenBucket(ctx, ts.Getenv(urlVar))
	ts.Check(err)
	defer b.Close()
	switch {
	case args[0] == "get" && len(args) == 3:
		data, err := b.ReadAll(ctx, args[1])
		ts.Check(err)
		ts.Check(os.WriteFile(ts.MkAbs(args[2]), data, 0o666))
	case args[0] == "put" && len(args) == 3:
		data, err := os.ReadFile(ts.MkAbs(args[2]))
		ts.Check(err)
		ts.Check(b.WriteAll(ctx, args[1], data, &blob.WriterOptions{ContentType: "application/octet-stream"}))
	case args[0] == "rm" && len(args) == 2:
		ts.Check(b.Delete(ctx, args[1]))
	default:
		ts.Fatalf("usage: %s get|put key file | %s rm key", name, name)
	}
}

// A -cache-url that cannot work stops the command before it starts, as a
// bad flag does: one line, exit status 2, nothing fetched. For download and
// serve alike, from the flag or GOMODFETCH_CACHE_URL.
func TestBadCacheURL(t *testing.T) {
	root := t.TempDir()
	if err := os.WriteFile(filepath.Join(root, "go.mod"), []byte("module example.com/m\n\ngo 1.22\n\nrequire example.com/x v1.0.0\n"), 0o666); err != nil {
		t.Fatal(err)
	}
	modcache := filepath.Join(root, "modcache")
	t.Setenv("GOMODCACHE", modcache)
	t.Setenv("GOPROXY", "off")
	t.Setenv("GOFLAGS", "")
	for _, c := range []struct{ url, want string }{
		{"s3://b?region=us-east-1&endpoint=s3.example.com", "not an http:// or https:// URL"},
		{"s3://b?region=us-east-1&endpoint=http://127.0.0.1:9000", "add use_path_style=true"},
		{"ftp://b", `unknown scheme "ftp"`},
		{"s3://b\x7f", "not a URL"},
	} {
		for _, args := range [][]string{
			{"gomodfetch", "-C", root, "-cache-url", c.url},
			{"gomodfetch", "serve", "-C", root, "-addr", "127.0.0.1:0", "-cache-url", c.url},
			{"gomodfetch", "-C", root},
		} {
			t.Setenv("GOMODFETCH_CACHE_URL", "")
			if len(args) == 3 {
				t.Setenv("GOMODFETCH_CACHE_URL", c.url)
			}
			var stdout, stderr strings.Builder
			code := run(args, &stdout, &stderr)
			lines := strings.Split(strings.TrimSpace(stderr.String()), "\n")
			if code != exitUsage || len(lines) != 1 || !strings.Contains(lines[0], "-cache-url: ") || !strings.Contains(lines[0], c.want) {
				t.Errorf("%q: exit %d, stderr:\n%s\nwant exit %d and one line with %q", args, code, stderr.String(), exitUsage, c.want)
			}
			if _, err := os.Stat(modcache); err == nil {
				t.Fatalf("%q: the module cache was created", args)
			}
		}
	}
}
