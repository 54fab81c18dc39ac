//! jianghai-stowage (skeleton).
