//! Chapter 02: not written yet. See the course README for the learning path.
