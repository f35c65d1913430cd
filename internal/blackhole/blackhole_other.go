//go:build !linux

// Package blackhole makes loopback addresses that silently drop SYNs; it
// needs Linux.
package blackhole

import "errors"

// Listen is only implemented on Linux.
func Listen() (string, func(), error) {
	return "", nil, errors.New("blackhole: needs Linux")
}
