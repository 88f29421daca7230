//! Frame interpolation with RIFE: pairs, sequences and videos, any timestep, scene cuts, optical flow.
