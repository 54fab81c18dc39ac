//! jianghai-ais (skeleton).
