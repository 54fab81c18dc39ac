//! jianghai-store (skeleton).
