//go:build !unix

package config

import "os"

// openNonBlocking opens path for reading (there are no FIFOs to block on
// in the file system here).
func openNonBlocking(path string) (*os.File, error) { return os.Open(path) }
