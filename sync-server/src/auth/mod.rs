//! Authentication: passwords (Argon2id), device tokens (random, stored only as
//! a SHA-256 hash), failed-login throttling, and the [`Caller`] extractor that
//! every authenticated handler takes.

mod caller;
mod password;
mod throttle;
mod token;

pub use caller::Caller;
pub use password::{hash_password, verify_password};
pub use throttle::Throttle;
pub use token::{hash_token, new_token};
