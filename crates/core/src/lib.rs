//! jianghai-core (skeleton).
