//! Chapter 04: not written yet. See the course README for the learning path.
