//! Authentication: passwords (Argon2id), device tokens (random, stored only as
//! a SHA-256 hash), the one sign-in workflow (with the failed-login throttle of
//! [`crate::throttle`]) and the client address it counts by, and the [`Caller`] extractor that
//! every authenticated handler takes.

mod caller;
mod client;
mod password;
pub mod signin;
mod token;

pub use caller::Caller;
pub use client::{client_addr, ClientAddr};
pub use password::{hash_password, password_matches, verify_password};
pub use signin::{sign_in, Attempt, SignInError};
pub use token::{hash_token, new_token};
