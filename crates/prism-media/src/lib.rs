//! Image and video I/O for Prism: decoding with orientation and ICC, atomic writes, folder batches, ffmpeg pipes and progress.
