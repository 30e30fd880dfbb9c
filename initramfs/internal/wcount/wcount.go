// Package wcount counts the bytes the image writers have written, for
// their padding and the sizes they report.
package wcount

import "io"

// Writer passes writes to W and counts the bytes written in N.
type Writer struct {
	W io.Writer
	N int64
}

func (c *Writer) Write(b []byte) (int, error) {
	n, err := c.W.Write(b)
	c.N += int64(n)
	return n, err
}
