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
	"sync"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/gotooltest"
	"github.com/rogpeppe/go-internal/testscript"
	"gocloud.dev/blob"
	_ "gocloud.dev/blob/s3blob"

	"gomodfetch/internal/fakegcs"
)

// The S3-compatible server the fleet tests use, started by .ci/run on
// loopback. Without GOMODFETCH_TEST_S3_ENDPOINT the scripts that need it
// skip ([s3] condition).
const (
	envS3Endpoint = "GOMODFETCH_TEST_S3_ENDPOINT" // http://127.0.0.1:PORT
	envS3Bucket   = "GOMODFETCH_TEST_S3_BUCKET"   // an existing bucket
)

// TestFleetScripts runs testscript/fleet/*.txtar with TestScripts's
// environment plus:
//
//	$S3URL      a -cache-url on the test S3 server, with a prefix of its own
//	            for each script (only under [s3])
//	$DEADS3     an s3:// URL whose endpoint refuses connections
//	$STALLEDS3  an s3:// URL whose endpoint accepts and never answers
//	$GSURL      a gs:// -cache-url, with a prefix of its own, on a fake GCS
//	            (internal/fakegcs) on loopback, which STORAGE_EMULATOR_HOST
//	            points the gs:// driver at
//
// and the commands s3obj and gsobj (get|put|rm) to reach the objects under
// $S3URL and $GSURL.
func TestFleetScripts(t *testing.T) {
	endpoint, bucketName := os.Getenv(envS3Endpoint), os.Getenv(envS3Bucket)
	if endpoint == "" {
		t.Logf("%s is not set: scripts needing the S3 server skip (.ci/run starts one)", envS3Endpoint)
	}
	if bucketName == "" {
		bucketName = "gomodfetch-test"
	}
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
			// Credentials the S3 SDK reads; the test server takes any.
			env.Setenv("AWS_ACCESS_KEY_ID", "gomodfetch")
			env.Setenv("AWS_SECRET_ACCESS_KEY", "gomodfetch-secret")
			env.Setenv("AWS_EC2_METADATA_DISABLED", "true")
			env.Setenv("DEADS3", s3URL("fleet", dead, ""))
			env.Setenv("STALLEDS3", s3URL("fleet", stalled, ""))
			env.Setenv("STORAGE_EMULATOR_HOST", gcs.Listener.Addr().String())
			env.Setenv("GSURL", fmt.Sprintf("gs://gomodfetch-test?prefix=%s-%d/", filepath.Base(env.WorkDir), time.Now().UnixNano()))
			if endpoint != "" {
				prefix := fmt.Sprintf("%s-%d/", filepath.Base(env.WorkDir), time.Now().UnixNano())
				env.Setenv("S3URL", s3URL(bucketName, endpoint, prefix))
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
				return endpoint != "", nil
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
