package serve

import (
	"io"
	"net/http"
	"testing"
)

// BenchmarkWarm measures answering what the cache holds (online: the
// engine's checks included), the path a fleet of go commands takes most:
//
//	go test -run - -bench Warm -cpuprofile cpu.out ./serve
func BenchmarkWarm(b *testing.B) {
	for _, file := range []string{"v1.0.0.mod", "v1.0.0.info", "v1.0.0.zip"} {
		b.Run(file, func(b *testing.B) {
			st := newSetup(b, nil)
			url := st.srv.URL + "/example.com/m/@v/" + file
			get := func(hc *http.Client) {
				resp, err := hc.Get(url)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					b.Fatalf("%s: %d", file, resp.StatusCode)
				}
			}
			get(http.DefaultClient) // fills the cache
			before := len(st.up.requests())
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
				for pb.Next() {
					get(hc)
				}
			})
			b.StopTimer()
			if n := len(st.up.requests()) - before; n != 0 {
				b.Errorf("%d upstream requests for what the cache holds", n)
			}
		})
	}
}
