//! jianghai-waterway (skeleton).
