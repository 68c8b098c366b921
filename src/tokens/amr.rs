//! How a session's login was authenticated: the access tokens' `amr` claim,
//! in RFC 8176's values. Each session keeps the methods of its login (in
//! `sessions.amr`), so every token a refresh issues carries them too.

/// The ways a login can be authenticated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Amr {
    /// A password.
    Password,
    /// A password and a TOTP code.
    PasswordOtp,
    /// A password and a recovery code.
    PasswordRecovery,
    /// A passkey (a hardware-bound key).
    Passkey,
}

impl Amr {
    /// The claim's values.
    pub fn methods(self) -> &'static [&'static str] {
        match self {
            Self::Password => &["pwd"],
            Self::PasswordOtp => &["pwd", "otp"],
            Self::PasswordRecovery => &["pwd", "rec"],
            Self::Passkey => &["hwk"],
        }
    }

    /// As stored in `sessions.amr`: the values, space-separated.
    pub fn as_stored(self) -> &'static str {
        match self {
            Self::Password => "pwd",
            Self::PasswordOtp => "pwd otp",
            Self::PasswordRecovery => "pwd rec",
            Self::Passkey => "hwk",
        }
    }

    /// What [`as_stored`](Self::as_stored) wrote. Anything else (a row no
    /// version of the server writes) claims the least: a password.
    pub fn from_stored(stored: &str) -> Self {
        [
            Self::Password,
            Self::PasswordOtp,
            Self::PasswordRecovery,
            Self::Passkey,
        ]
        .into_iter()
        .find(|amr| amr.as_stored() == stored)
        .unwrap_or(Self::Password)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_form_round_trips() {
        for amr in [
            Amr::Password,
            Amr::PasswordOtp,
            Amr::PasswordRecovery,
            Amr::Passkey,
        ] {
            assert_eq!(Amr::from_stored(amr.as_stored()), amr);
            assert_eq!(amr.as_stored(), amr.methods().join(" "));
        }
        assert_eq!(Amr::from_stored("otp"), Amr::Password);
    }
}
