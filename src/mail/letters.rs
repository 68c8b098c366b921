//! What each mail says, as plain text and HTML. Every value from outside
//! (addresses, device names, the app's name) is escaped in the HTML part.
//! Links point at the app with the token in the fragment; each mail also
//! says what to do when the reader did not ask for it.

use chrono::NaiveDateTime;

/// A mail to write.
#[derive(Debug, Clone)]
pub enum Letter {
    /// A password-reset link, valid for `valid_for`.
    ResetPassword {
        /// The link.
        link: String,
        /// How long it works, for the reader ("1 hour").
        valid_for: String,
    },
    /// A link that proves the address.
    VerifyEmail {
        /// The link.
        link: String,
        /// How long it works.
        valid_for: String,
    },
    /// To the new address of an email change: the link that confirms it.
    ConfirmEmail {
        /// The link.
        link: String,
        /// How long it works.
        valid_for: String,
    },
    /// To the old address: a change to `new_email` was asked for.
    EmailChangeRequested {
        /// The address asked for.
        new_email: String,
    },
    /// To the old address: the account now uses `new_email`.
    EmailChanged {
        /// The new address.
        new_email: String,
    },
    /// The password was changed (by the user, or from a reset link).
    PasswordChanged {
        /// When (UTC).
        at: NaiveDateTime,
    },
    /// A way of signing in was added or removed (ASVS 2.2.3: authentication
    /// details changed).
    SignInMethodChanged {
        /// What changed.
        change: MethodChange,
        /// When (UTC).
        at: NaiveDateTime,
    },
    /// A sign-in from a device that is not a known device of the account.
    NewSignIn {
        /// "Firefox 133 on Linux".
        device: String,
        /// The client IP, if known.
        ip: Option<String>,
        /// When (UTC).
        at: NaiveDateTime,
    },
}

/// A change to how an account signs in, for [`Letter::SignInMethodChanged`].
#[derive(Debug, Clone)]
pub enum MethodChange {
    /// Two-factor authentication (TOTP) was turned on.
    TotpOn,
    /// It was turned off by the user.
    TotpOff,
    /// An administrator removed it.
    TotpRemovedByAdmin,
    /// A passkey with this name was added.
    PasskeyAdded(String),
    /// The passkey with this name was removed.
    PasskeyRemoved(String),
}

/// A letter written out.
pub struct Written {
    /// The subject.
    pub subject: String,
    /// The text part.
    pub text: String,
    /// The HTML part.
    pub html: String,
}

/// `text` with HTML's special characters escaped.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A human duration: "1 hour", "24 hours", "30 minutes".
pub fn human(duration: chrono::TimeDelta) -> String {
    let minutes = duration.num_minutes();
    let plural = |n: i64, unit: &str| format!("{n} {unit}{}", if n == 1 { "" } else { "s" });
    if minutes >= 60 && minutes % 60 == 0 {
        plural(minutes / 60, "hour")
    } else if minutes >= 1 {
        plural(minutes, "minute")
    } else {
        plural(duration.num_seconds().max(1), "second")
    }
}

/// One paragraph of both parts; `{link}` in the text becomes a button in HTML.
struct Body {
    text: Vec<String>,
    html: Vec<String>,
}

impl Body {
    fn new() -> Self {
        Self {
            text: Vec::new(),
            html: Vec::new(),
        }
    }

    fn say(mut self, line: &str) -> Self {
        self.text.push(line.to_owned());
        self.html.push(format!("<p>{}</p>", escape(line)));
        self
    }

    fn link(mut self, label: &str, link: &str) -> Self {
        self.text.push(format!("{label}:\n{link}"));
        let link = escape(link);
        self.html.push(format!(
            "<p><a href=\"{link}\" style=\"display:inline-block;padding:10px 16px;\
             background:#1f4ed8;color:#ffffff;text-decoration:none;border-radius:6px\">{}</a></p>\
             <p style=\"font-size:12px;color:#555\">{link}</p>",
            escape(label)
        ));
        self
    }

    fn done(self, app_name: &str, subject: String) -> Written {
        let text = format!("{}\n\n-- \n{app_name}\n", self.text.join("\n\n"));
        let html = format!(
            "<!doctype html><html><head><meta charset=\"utf-8\"><title>{title}</title></head>\
             <body style=\"font-family:sans-serif;line-height:1.5\">{body}\
             <p style=\"color:#555\">&mdash; {app}</p></body></html>",
            title = escape(&subject),
            body = self.html.join(""),
            app = escape(app_name),
        );
        Written {
            subject,
            text,
            html,
        }
    }
}

impl Letter {
    /// The letter written out, signed by `app_name`.
    pub fn write(&self, app_name: &str) -> Written {
        match self {
            Self::ResetPassword { link, valid_for } => Body::new()
                .say(&format!("Someone asked to reset the password of your {app_name} account."))
                .link("Choose a new password", link)
                .say(&format!(
                    "The link works once, for {valid_for}. Resetting signs you out everywhere else."
                ))
                .say("If you did not ask for this, ignore this mail: your password stays as it is.")
                .done(app_name, format!("Reset your {app_name} password")),
            Self::VerifyEmail { link, valid_for } => Body::new()
                .say(&format!("Please confirm that this is the address of your {app_name} account."))
                .link("Verify this address", link)
                .say(&format!("The link works once, for {valid_for}."))
                .say("If you did not create an account, ignore this mail.")
                .done(app_name, format!("Verify your {app_name} email address")),
            Self::ConfirmEmail { link, valid_for } => Body::new()
                .say(&format!(
                    "Someone asked to move a {app_name} account to this address."
                ))
                .link("Confirm the new address", link)
                .say(&format!("The link works once, for {valid_for}."))
                .say("If you did not ask for this, ignore this mail: nothing changes.")
                .done(app_name, format!("Confirm your new {app_name} email address")),
            Self::EmailChangeRequested { new_email } => Body::new()
                .say(&format!(
                    "Someone signed in to your {app_name} account asked to change its address to {new_email}."
                ))
                .say("Nothing changes until the link sent to that address is opened.")
                .say("If this was not you, change your password now and sign out your other sessions.")
                .done(app_name, format!("Your {app_name} address is about to change")),
            Self::EmailChanged { new_email } => Body::new()
                .say(&format!(
                    "Your {app_name} account now uses {new_email}. Mails about it go there from now on."
                ))
                .say("If this was not you, contact your administrator at once.")
                .done(app_name, format!("Your {app_name} address was changed")),
            Self::PasswordChanged { at } => Body::new()
                .say(&format!(
                    "The password of your {app_name} account was changed at {}. Every other \
                     session was signed out.",
                    at.format("%Y-%m-%d %H:%M UTC")
                ))
                .say(
                    "If this was not you, ask for a password reset at once and tell your \
                     administrator.",
                )
                .done(app_name, format!("Your {app_name} password was changed")),
            Self::SignInMethodChanged { change, at } => {
                let at = at.format("%Y-%m-%d %H:%M UTC");
                let (what, subject) = match change {
                    MethodChange::TotpOn => (
                        format!("Two-factor authentication was turned on for your {app_name} account at {at}: signing in now asks for a code from an authenticator app."),
                        format!("Two-factor authentication is on for your {app_name} account"),
                    ),
                    MethodChange::TotpOff => (
                        format!("Two-factor authentication was turned off for your {app_name} account at {at}: signing in no longer asks for a code."),
                        format!("Two-factor authentication is off for your {app_name} account"),
                    ),
                    MethodChange::TotpRemovedByAdmin => (
                        format!("An administrator removed the two-factor authentication of your {app_name} account at {at}, and signed out every session. You can turn it on again once signed in."),
                        format!("Two-factor authentication was removed from your {app_name} account"),
                    ),
                    MethodChange::PasskeyAdded(name) => (
                        format!("A passkey named \"{name}\" was added to your {app_name} account at {at}: it signs in without a password."),
                        format!("A passkey was added to your {app_name} account"),
                    ),
                    MethodChange::PasskeyRemoved(name) => (
                        format!("The passkey named \"{name}\" was removed from your {app_name} account at {at}."),
                        format!("A passkey was removed from your {app_name} account"),
                    ),
                };
                Body::new()
                    .say(&what)
                    .say(
                        "If this was not you, change your password now (which signs out every \
                         other session), review your passkeys and tell your administrator.",
                    )
                    .done(app_name, subject)
            }
            Self::NewSignIn { device, ip, at } => {
                let from = ip.as_deref().map_or(String::new(), |ip| format!(" from {ip}"));
                let at = at.format("%Y-%m-%d %H:%M UTC");
                Body::new()
                    .say(&format!(
                        "Your {app_name} account was signed in to on {device}{from} at {at}."
                    ))
                    .say("If this was you, there is nothing to do.")
                    .say(
                        "If it was not you, change your password now (which signs out every other \
                         session) and review your sessions.",
                    )
                    .done(app_name, format!("New sign-in to your {app_name} account"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_escaped_in_html_and_links_are_in_both_parts() {
        let letter = Letter::ResetPassword {
            link: "https://app.example.com/#reset-password=abc".into(),
            valid_for: "1 hour".into(),
        };
        let written = letter.write("Acme <Auth>");
        assert_eq!(written.subject, "Reset your Acme <Auth> password");
        assert!(
            written
                .text
                .contains("https://app.example.com/#reset-password=abc")
        );
        assert!(
            written
                .html
                .contains("href=\"https://app.example.com/#reset-password=abc\"")
        );
        assert!(written.html.contains("Acme &lt;Auth&gt;") && !written.html.contains("<Auth>"));

        let notice = Letter::NewSignIn {
            device: "<script>x</script>".into(),
            ip: Some("192.0.2.7".into()),
            at: chrono::DateTime::from_timestamp(0, 0).unwrap().naive_utc(),
        }
        .write("Wristband");
        assert!(
            notice
                .text
                .contains("<script>x</script> from 192.0.2.7 at 1970-01-01 00:00 UTC")
        );
        assert!(!notice.html.contains("<script>"));
    }

    #[test]
    fn durations_read_like_words() {
        assert_eq!(human(chrono::TimeDelta::hours(1)), "1 hour");
        assert_eq!(human(chrono::TimeDelta::hours(24)), "24 hours");
        assert_eq!(human(chrono::TimeDelta::minutes(90)), "90 minutes");
        assert_eq!(human(chrono::TimeDelta::seconds(30)), "30 seconds");
    }
}
