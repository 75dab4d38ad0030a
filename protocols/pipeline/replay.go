package pipeline

import (
	"io"

	"github.com/otwatch/otwatch/protocols/capture"
)

// ReplayFile feeds every frame of a capture file to the pipeline (without
// flushing: several files form one stream). It returns a
// *capture.TruncatedError when the file is damaged after some frames, having
// processed everything readable, or the error of opening it.
func (p *Pipeline) ReplayFile(path string) error {
	r, err := capture.Open(path)
	if err != nil {
		return err
	}
	defer r.Close()
	for {
		f, err := r.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		p.HandleFrame(f)
	}
}
