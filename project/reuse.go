package project

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/mod/module"
)

// readReuse reads a -reuse file (a previous -json output: a stream of
// objects) as the go command does, and returns the module versions and
// path@query pairs it holds records with an Origin for: only those can be
// reused, and the file's absolute name. A relative name is taken from wd.
// Errors are go's, naming the file as given: its open error, or "parsing
// FILE: ...".
func readReuse(wd, file string) (string, map[module.Version]bool, error) {
	abs := file
	if !filepath.IsAbs(abs) {
		abs = filepath.Join(wd, file)
	}
	data, err := os.ReadFile(abs)
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			pe.Path = file
		}
		return "", nil, err
	}
	keys := map[module.Version]bool{}
	dec := json.NewDecoder(bytes.NewReader(data))
	for {
		var m struct {
			Path, Version, Query string
			Origin               json.RawMessage
		}
		if err := dec.Decode(&m); err != nil {
			if errors.Is(err, io.EOF) {
				return abs, keys, nil
			}
			return "", nil, fmt.Errorf("parsing %s: %v", file, err)
		}
		if len(m.Origin) == 0 || string(m.Origin) == "null" {
			continue
		}
		keys[module.Version{Path: m.Path, Version: m.Version}] = true
		if m.Query != "" {
			keys[module.Version{Path: m.Path, Version: m.Query}] = true
		}
	}
}
