package beneath

// Sizes counts files (regular files and symlinks; directories are not
// counted) and the bytes of the regular ones.
type Sizes struct {
	Files, Bytes int64
}

// Add adds o to s.
func (s *Sizes) Add(o Sizes) {
	s.Files += o.Files
	s.Bytes += o.Bytes
}
