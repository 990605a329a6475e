//! Encoding stored values (postcard), and the error for stored data that is not what it should be.

use serde::{Serialize, de::DeserializeOwned};
use std::io;

pub fn encode<T: Serialize>(value: &T) -> io::Result<Vec<u8>> {
    postcard::to_allocvec(value).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Decodes a stored value. A value that does not decode is corruption: the error stops the
/// node (openraft treats storage errors as fatal) rather than skipping the entry.
pub fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> io::Result<T> {
    postcard::from_bytes(bytes).map_err(|e| corrupt(format!("{what} does not decode: {e}")))
}

/// Stored data that is not what it should be (undecodable, cut short, missing).
pub fn corrupt(message: impl Into<String>) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, message.into())
}
