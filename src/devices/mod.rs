//! Devices: the device cookie that makes a browser a *known device* of an
//! account (OWASP "Slow Down Online Guessing Attacks with Device Cookies",
//! `cookie.rs`: the value; `src/cookies.rs` writes the cookie), and the short human names of the devices sessions come from
//! (`name.rs`).
//!
//! The lockout (`db/login_failures.rs`, `sessions/login.rs`) counts failures
//! for each known device of an account on its own and for all untrusted
//! clients together, so an attacker who only knows an email can lock out
//! untrusted clients, never the owner's known devices.

pub mod cookie;
pub mod name;

pub use cookie::{Device, DeviceKey, DeviceToken};
pub use name::device_name;
