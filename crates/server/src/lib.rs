//! jianghai-server (skeleton).
