//! Second factors as the pages and the API see them.

use serde::{Deserialize, Serialize};

use crate::Role;

/// Who in a workspace must use a second factor at password sign-in.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[serde(rename_all = "snake_case")]
pub enum Requirement {
    #[default]
    Off,
    /// Tenant admins, whose sessions can change everyone else's access.
    Admins,
    Everyone,
}

impl Requirement {
    pub const ALL: [Requirement; 3] =
        [Requirement::Off, Requirement::Admins, Requirement::Everyone];

    pub fn as_str(self) -> &'static str {
        match self {
            Requirement::Off => "off",
            Requirement::Admins => "admins",
            Requirement::Everyone => "everyone",
        }
    }

    pub fn parse(s: &str) -> Option<Requirement> {
        Self::ALL.into_iter().find(|r| r.as_str() == s)
    }

    pub fn label(self) -> &'static str {
        match self {
            Requirement::Off => "Optional for everyone",
            Requirement::Admins => "Required for tenant admins",
            Requirement::Everyone => "Required for everyone",
        }
    }

    pub fn applies_to(self, role: Role) -> bool {
        match self {
            Requirement::Off => false,
            Requirement::Admins => role == Role::TenantAdmin,
            Requirement::Everyone => true,
        }
    }
}

/// A person's own second-factor state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Status {
    /// An authenticator app is set up and confirmed.
    pub enrolled: bool,
    pub recovery_codes_left: i64,
    /// Their workspace requires a second factor of them (so they cannot turn it off).
    pub required: bool,
}

/// An authenticator app being set up: what the person scans or types into it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
pub struct Enrolment {
    /// The seed in base32, for typing in.
    pub secret: String,
    pub otpauth_url: String,
    /// The `otpauth://` link as a QR code (an `<svg>` element).
    pub qr_svg: String,
}
