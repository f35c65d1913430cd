package zmtp

import (
	"bufio"
	"bytes"
	"fmt"
	"testing"
)

// BenchmarkFrameReader measures decoding alone: frames of one size read
// from memory through the engine's read buffer (readBufSize), as a
// connection's read loop reads them, without the network.
func BenchmarkFrameReader(b *testing.B) {
	for _, size := range []int{16, 1024} {
		b.Run(fmt.Sprintf("%dB", size), func(b *testing.B) {
			const frames = 4096
			var wire []byte
			for range frames {
				wire = appendFrame(wire, 0, make([]byte, size))
			}
			src := bytes.NewReader(wire)
			fr := frameReader{r: bufio.NewReaderSize(src, readBufSize)}
			b.SetBytes(int64(size))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				if i%frames == 0 {
					src.Reset(wire)
					fr.r.Reset(src)
				}
				if _, body, err := fr.readFrame(-1); err != nil || len(body) != size {
					b.Fatalf("frame %d: %d octets, %v", i, len(body), err)
				}
			}
		})
	}
}
