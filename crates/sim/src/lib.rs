//! jianghai-sim (skeleton).
