// Package videoio writes short generated clips to files: animated GIF,
// animated PNG (APNG), MP4 and WebM (through an installed ffmpeg), .npy
// float32 arrays, and folders of numbered PNG frames.
//
// A Clip holds its frames as float32 [F, H, W, 3] in [0, 1], the layout
// the video pipelines produce and the motion checker in package evaluate
// reads. Write picks the format from the file extension; every writer is
// atomic (a temporary file renamed into place), so a failed write leaves
// nothing half-written.
//
// It is not a video library: it encodes the few formats above for clips of
// a few dozen small frames, and reads back only .npy (LoadNPY). Encoding
// MP4 and WebM is delegated to ffmpeg; when ffmpeg is not on PATH those
// formats fail with ErrNoFFmpeg and the others still work.
package videoio
