package serve

import "sync"

// smallFiles keeps in memory the .info and .mod answers this process has
// served from its cache: a warm server answers the same few thousand of
// them over and over, and reading each from disk again (an openat2 below
// the cache root, an fstat, a read, a close) was a fifth of its CPU per
// request. Only bytes the server would serve go in: a .info read from the
// cache, and a .mod whose hash the engine verified in this process
// (online) or read from the cache (offline, where cached .mod files are
// served unchecked). A file changed on disk afterwards is not seen: the
// bytes served stay the ones verified. Bounded by smallFilesMax bytes (an
// entry over smallFileMax is not kept); when full, entries go at random.
type smallFiles struct {
	mu    sync.Mutex
	m     map[string][]byte
	bytes int
}

const (
	smallFilesMax = 32 << 20
	smallFileMax  = 64 << 10
)

func (c *smallFiles) get(key string) ([]byte, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	data, ok := c.m[key]
	return data, ok
}

// put keeps data, which must not change afterwards, under key.
func (c *smallFiles) put(key string, data []byte) {
	size := len(key) + len(data)
	if len(data) > smallFileMax {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string][]byte{}
	}
	if _, ok := c.m[key]; ok {
		return
	}
	for k, v := range c.m {
		if c.bytes+size <= smallFilesMax {
			break
		}
		delete(c.m, k)
		c.bytes -= len(k) + len(v)
	}
	c.m[key] = data
	c.bytes += size
}
