package download

import "os"

// Include adds the lines of another go.sum file (in a workspace, a
// module's go.sum beside go.work.sum) to what s trusts. They are never
// written to s.File. A missing file adds nothing.
func (s *Sums) Include(file string) error {
	data, err := os.ReadFile(file)
	if err != nil {
		if os.IsNotExist(err) {
			return nil
		}
		return err
	}
	other, err := ParseSums(file, data)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for mod, hs := range other.known {
		for _, h := range hs {
			if !contains(s.known[mod], h) {
				s.known[mod] = append(s.known[mod], h)
			}
		}
	}
	return nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
