// Package errline shortens an error to what fits on one line of a report.
package errline

import "strings"

// First is err's message up to its first newline.
func First(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return s
}
