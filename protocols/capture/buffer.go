package capture

import "io"

// readBuffer reads ahead of the records like a bufio.Reader, but its buffer
// starts at startBuffer and grows only when a record asks for more (up to
// bufferSize). A capture of ordinary frames then touches 64 KiB instead of
// the half MiB the largest record needs; on a short run each fresh page of
// memory costs a page fault, which is more than reading the page.
type readBuffer struct {
	rd   io.Reader
	buf  []byte
	r, w int   // buf[r:w] is read and not yet consumed
	err  error // what ended the input, once buf[r:w] is all that is left
}

// startBuffer holds many records of ordinary frames at once.
const startBuffer = 64 << 10

func newReadBuffer(rd io.Reader) *readBuffer {
	return &readBuffer{rd: rd, buf: make([]byte, startBuffer)}
}

// Peek returns the next n bytes (n ≤ bufferSize) without consuming them,
// valid until the next call. When the input ends first it returns what is
// left and the error that ended it (io.EOF at the end).
func (b *readBuffer) Peek(n int) ([]byte, error) {
	for b.w-b.r < n && b.err == nil {
		b.fill(n)
	}
	if b.w-b.r < n {
		return b.buf[b.r:b.w], b.err
	}
	return b.buf[b.r : b.r+n], nil
}

// Discard consumes n bytes the last Peek returned.
func (b *readBuffer) Discard(n int) { b.r += min(n, b.w-b.r) }

// Read reads what is buffered, or reads ahead when nothing is (a gzip
// reader reads the compressed file through it).
func (b *readBuffer) Read(p []byte) (int, error) {
	if b.r == b.w {
		if b.err != nil {
			return 0, b.err
		}
		b.fill(1)
		if b.r == b.w {
			return 0, b.err
		}
	}
	n := copy(p, b.buf[b.r:b.w])
	b.r += n
	return n, nil
}

// fill moves the unread bytes to the front, grows the buffer when n bytes
// would not fit, and reads once.
func (b *readBuffer) fill(n int) {
	if b.r > 0 {
		b.w = copy(b.buf, b.buf[b.r:b.w])
		b.r = 0
	}
	if n > len(b.buf) {
		grown := make([]byte, min(max(n, 2*len(b.buf)), max(n, bufferSize)))
		copy(grown, b.buf[:b.w])
		b.buf = grown
	}
	for range 100 {
		m, err := b.rd.Read(b.buf[b.w:])
		b.w += m
		if err != nil {
			b.err = err
			return
		}
		if m > 0 {
			return
		}
	}
	b.err = io.ErrNoProgress
}
