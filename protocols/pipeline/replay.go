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
	_, err = p.ReadFrom(r, nil)
	return err
}

// ProgressEvery is how many frames ReadFrom hands the pipeline between
// two calls of its progress function.
const ProgressEvery = 4096

// ReadFrom hands the pipeline every frame of r, calling progress (when not
// nil) every ProgressEvery frames and at the end. It returns the number of
// frames and nil at the end of r, or r's error: everything before it was
// handled.
//
// A panic while a frame is handled, outside the guards of the sessions and
// the sink, is survived (FramePanicked) and the frames after it are
// handled as before. The guard is around the loop, entered again after a
// panic, rather than around each frame, so a frame costs nothing more. A
// panic of r's or of progress is not caught: a reader that panicked would
// panic again at once.
func (p *Pipeline) ReadFrom(r *capture.Reader, progress func()) (frames int, err error) {
	for {
		n, panicked, err := p.readUntilPanic(r, progress)
		if frames += n; !panicked {
			if progress != nil {
				progress()
			}
			return frames, err
		}
	}
}

func (p *Pipeline) readUntilPanic(r *capture.Reader, progress func()) (frames int, panicked bool, err error) {
	var f capture.Frame
	handling := false
	defer func() {
		if !handling {
			return // not the pipeline's: it goes on up
		}
		if v := recover(); v != nil {
			p.FramePanicked(v, f)
			panicked = true
		}
	}()
	for {
		if f, err = r.Next(); err != nil {
			if err == io.EOF {
				err = nil
			}
			return frames, false, err
		}
		frames++
		handling = true
		p.HandleFrame(f)
		handling = false
		if progress != nil && frames%ProgressEvery == 0 {
			progress()
		}
	}
}

// FramePanicked is told of a panic while the pipeline handled f, outside
// the guards of the sessions and the sink: a bug no test found yet, on a
// frame nobody foresaw (ReadFrom tells it; a caller that hands frames one
// by one recovers and tells it). It is the anomaly pipeline.frame_panic,
// told to OnFramePanic; the streams f was part of may lose what was in
// flight, but the process never dies on traffic, and a monitor that lost
// a few streams is better than a blind one.
func (p *Pipeline) FramePanicked(v any, f capture.Frame) {
	p.Stats.Anomalies["pipeline.frame_panic"]++
	if p.OnFramePanic != nil {
		p.OnFramePanic(v, f)
	}
}
