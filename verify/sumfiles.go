package verify

import "os"

// Include adds the lines of another go.sum file (in a workspace, a
// module's go.sum beside go.work.sum) to what s trusts, after s.File's (see
// Sums.match). They are never written to s.File. A missing file adds
// nothing.
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
	s.others = append(s.others, sumFile{name: file, known: other.known})
	return nil
}
