//! Wristband's cookies: the one place that names, sets, clears and reads the
//! refresh cookie (`__Host-wristband_refresh`) and the device cookie
//! (`__Host-wristband_device`, see `devices/`), with the attributes they share.
//!
//! `__Host-wristband_refresh=…; Path=/; Secure; HttpOnly; SameSite=Strict; Max-Age=N`.
//! With `WRISTBAND_COOKIE_SECURE=false` the `__Host-` prefix (which requires
//! `Secure`) and the `Secure` attribute are dropped.

use actix_web::HttpRequest;
use actix_web::cookie::{Cookie, SameSite, time};

use crate::devices::DeviceToken;
use crate::tokens::RefreshToken;

/// A cookie with Wristband's attributes: `Path=/; Secure; HttpOnly;
/// SameSite=Strict; Max-Age=N` (without `Secure` when `secure` is false). The
/// refresh cookie and the device cookie (`devices/cookie.rs`) are both made
/// here, so their attributes cannot drift apart.
pub fn host_cookie(
    name: &'static str,
    secure: bool,
    value: String,
    max_age_secs: i64,
) -> Cookie<'static> {
    Cookie::build(name, value)
        .path("/")
        .secure(secure)
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(time::Duration::seconds(max_age_secs.max(0)))
        .finish()
}

/// How the refresh cookie is written.
#[derive(Debug, Clone, Copy)]
pub struct RefreshCookie {
    secure: bool,
}

impl RefreshCookie {
    /// The cookie for `WRISTBAND_COOKIE_SECURE = secure`.
    pub fn new(secure: bool) -> Self {
        Self { secure }
    }

    /// The cookie's name.
    pub fn name(&self) -> &'static str {
        if self.secure {
            "__Host-wristband_refresh"
        } else {
            "wristband_refresh"
        }
    }

    fn build(&self, value: String, max_age_secs: i64) -> Cookie<'static> {
        host_cookie(self.name(), self.secure, value, max_age_secs)
    }

    /// The cookie carrying `token`, living `max_age_secs`.
    pub fn set(&self, token: &RefreshToken, max_age_secs: i64) -> Cookie<'static> {
        self.build(token.expose().to_owned(), max_age_secs)
    }

    /// The cookie that deletes it: same attributes, empty value, `Max-Age=0`.
    pub fn clear(&self) -> Cookie<'static> {
        self.build(String::new(), 0)
    }

    /// The refresh token the request carries, if any.
    pub fn read(&self, req: &HttpRequest) -> Option<String> {
        req.cookie(self.name())
            .map(|c| c.value().to_owned())
            .filter(|v| !v.is_empty())
    }
}

/// The device cookie's `Max-Age`: one year, as OWASP's scheme suggests.
pub const DEVICE_MAX_AGE_SECS: i64 = 365 * 24 * 60 * 60;

/// How the device cookie is written and read.
#[derive(Debug, Clone, Copy)]
pub struct DeviceCookie {
    secure: bool,
}

impl DeviceCookie {
    /// The cookie for `WRISTBAND_COOKIE_SECURE = secure`.
    pub fn new(secure: bool) -> Self {
        Self { secure }
    }

    /// The cookie's name.
    pub fn name(&self) -> &'static str {
        if self.secure {
            "__Host-wristband_device"
        } else {
            "wristband_device"
        }
    }

    /// The cookie carrying `token` for a year.
    pub fn set(&self, token: &DeviceToken) -> Cookie<'static> {
        host_cookie(
            self.name(),
            self.secure,
            token.expose().to_owned(),
            DEVICE_MAX_AGE_SECS,
        )
    }

    /// The device cookie the request carries, if any (not yet checked).
    pub fn read(&self, req: &HttpRequest) -> Option<String> {
        req.cookie(self.name())
            .map(|c| c.value().to_owned())
            .filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::devices::DeviceKey;

    #[test]
    fn the_cookie_has_every_attribute_and_no_email() {
        let device = crate::devices::Device::new(crate::db::UserId::new(), 1);
        let token = DeviceKey::derive(b"k").issue(&[device]);
        let text = DeviceCookie::new(true).set(&token).to_string();
        assert!(text.starts_with("__Host-wristband_device=wbd1."));
        for attribute in [
            "Path=/",
            "Secure",
            "HttpOnly",
            "SameSite=Strict",
            "Max-Age=31536000",
        ] {
            assert!(text.contains(attribute), "{attribute} missing from {text}");
        }
        let plain = DeviceCookie::new(false).set(&token).to_string();
        assert!(plain.starts_with("wristband_device=") && !plain.contains("Secure"));
        assert!(!format!("{token:?}").contains(&token.expose()[5..]));
    }

    use crate::tokens::RefreshKey;

    #[test]
    fn secure_cookie_has_every_attribute() {
        let token = RefreshKey::derive(b"k").issue(&crate::db::SessionId::new(), 1);
        let text = RefreshCookie::new(true).set(&token, 600).to_string();
        assert!(text.starts_with("__Host-wristband_refresh=wbr1."));
        for attribute in [
            "Path=/",
            "Secure",
            "HttpOnly",
            "SameSite=Strict",
            "Max-Age=600",
        ] {
            assert!(text.contains(attribute), "{attribute} missing from {text}");
        }
        assert!(
            !text.contains("Domain"),
            "__Host- cookies must not carry Domain"
        );
    }

    #[test]
    fn insecure_cookie_drops_prefix_and_secure() {
        let text = RefreshCookie::new(false).clear().to_string();
        assert!(text.starts_with("wristband_refresh=;"));
        assert!(!text.contains("Secure"));
        assert!(text.contains("Max-Age=0") && text.contains("HttpOnly"));
    }
}
