//! Beatbook sync server.
