//! Decryption outcomes and the facts a decrypted token carries.

/// Outcome of decrypting one advertising token (SPEC §4.3, names as the seed spells them).
///
/// Every variant is an expected answer, not an error: the proxy feeds it to the `uid2_status`
/// filter field and counts it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// The token decrypted and passed every check; the UID is available.
    Success,
    /// The token's master key id is not in the key set.
    NotAuthorizedForMasterKey,
    /// The token's site key id is not in the key set.
    NotAuthorizedForKey,
    /// No key set has been loaded yet.
    NotInitialized,
    /// The token is malformed: bad base64, wrong size, failed authentication or padding.
    InvalidPayload,
    /// The token's expiry is in the past.
    ExpiredToken,
    /// Every key of the key set has expired: the key refresh is not keeping up.
    KeysNotSynced,
    /// The token's version byte is not 2, 3 or 4.
    VersionNotSupported,
    /// A client-side generated token was used on a domain or app its site did not register.
    DomainNameCheckFailed,
    /// The token lives longer than allowed, or was generated too far in the future.
    InvalidTokenLifetime,
    /// The token's identity scope (UID2/EUID) differs from the key set's.
    InvalidIdentityScope,
}

impl Status {
    /// Every status, in the order of SPEC §4.3 (handy for pre-registering metric labels).
    pub const ALL: [Status; 11] = [
        Status::Success,
        Status::NotAuthorizedForMasterKey,
        Status::NotAuthorizedForKey,
        Status::NotInitialized,
        Status::InvalidPayload,
        Status::ExpiredToken,
        Status::KeysNotSynced,
        Status::VersionNotSupported,
        Status::DomainNameCheckFailed,
        Status::InvalidTokenLifetime,
        Status::InvalidIdentityScope,
    ];

    /// The status name used by filters, metrics and the CLI (`"SUCCESS"`, `"EXPIRED_TOKEN"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Success => "SUCCESS",
            Status::NotAuthorizedForMasterKey => "NOT_AUTHORIZED_FOR_MASTER_KEY",
            Status::NotAuthorizedForKey => "NOT_AUTHORIZED_FOR_KEY",
            Status::NotInitialized => "NOT_INITIALIZED",
            Status::InvalidPayload => "INVALID_PAYLOAD",
            Status::ExpiredToken => "EXPIRED_TOKEN",
            Status::KeysNotSynced => "KEYS_NOT_SYNCED",
            Status::VersionNotSupported => "VERSION_NOT_SUPPORTED",
            Status::DomainNameCheckFailed => "DOMAIN_NAME_CHECK_FAILED",
            Status::InvalidTokenLifetime => "INVALID_TOKEN_LIFETIME",
            Status::InvalidIdentityScope => "INVALID_IDENTITY_SCOPE",
        }
    }

    /// Parses a status name as printed by [`Status::as_str`]; also accepts the Java/.NET name
    /// `DOMAIN_OR_APP_NAME_CHECK_FAILED` for the domain status.
    pub fn from_name(name: &str) -> Option<Status> {
        if name == "DOMAIN_OR_APP_NAME_CHECK_FAILED" {
            return Some(Status::DomainNameCheckFailed);
        }
        Status::ALL.into_iter().find(|s| s.as_str() == name)
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Which SDK client the decryption imitates: it selects the lifetime limit and the domain check.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientType {
    /// A DSP reading the bidstream: `max_bidstream_lifetime_seconds`, domain/app check for
    /// client-side generated tokens.
    Bidstream,
    /// A sharing participant: `max_sharing_lifetime_seconds`, no domain check.
    Sharing,
}

/// Identity scope of a token or key set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentityScope {
    /// Unified ID 2.0.
    Uid2,
    /// European Unified ID.
    Euid,
}

impl IdentityScope {
    /// The name used by the operator (`"UID2"` or `"EUID"`).
    pub fn as_str(self) -> &'static str {
        match self {
            IdentityScope::Uid2 => "UID2",
            IdentityScope::Euid => "EUID",
        }
    }
}

/// What kind of directly identifying information the UID was made from (v3/v4 tokens only).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IdentityType {
    /// An email address.
    Email,
    /// A phone number.
    Phone,
}

/// Advertising token version (the wire bytes are 0x02, 0x70 and 0x80).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TokenVersion {
    /// Version 2: AES-256-CBC, standard base64.
    V2,
    /// Version 3: AES-256-GCM, standard base64.
    V3,
    /// Version 4: AES-256-GCM, base64url (or base64).
    V4,
}

impl TokenVersion {
    /// The version number as the Java/.NET SDKs report it (2, 3 or 4).
    pub fn number(self) -> u8 {
        match self {
            TokenVersion::V2 => 2,
            TokenVersion::V3 => 3,
            TokenVersion::V4 => 4,
        }
    }
}

/// Result of [`crate::decrypt`]: the status and whatever the token revealed.
///
/// `uid` is `Some` only on [`Status::Success`]. On `EXPIRED_TOKEN`, `DOMAIN_NAME_CHECK_FAILED`
/// and `INVALID_TOKEN_LIFETIME` the other fields are filled as far as the token was read (as the
/// Java/.NET SDKs do); on earlier failures they are `None`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    /// The outcome.
    pub status: Status,
    /// The raw UID (standard base64 text, 44 characters today); only on success.
    pub uid: Option<String>,
    /// When the identity was established (Unix milliseconds).
    pub established_ms: Option<i64>,
    /// The site (publisher) that generated the token.
    pub site_id: Option<i32>,
    /// The token's expiry (Unix milliseconds).
    pub expiry_ms: Option<i64>,
    /// When the token was generated or last refreshed (Unix milliseconds; v3/v4 only).
    pub generated_ms: Option<i64>,
    /// The token version.
    pub version: Option<TokenVersion>,
    /// Email or phone (v3/v4 only; v2 does not say).
    pub identity_type: Option<IdentityType>,
    /// The identity scope (the key set's, which the token's must match).
    pub identity_scope: Option<IdentityScope>,
    /// Privacy bit 1: the token was generated client-side (CSTG).
    pub is_client_side_generated: bool,
}

impl Decrypted {
    /// A result carrying only a status (failures before the token could be read).
    pub fn with_status(status: Status) -> Decrypted {
        Decrypted {
            status,
            uid: None,
            established_ms: None,
            site_id: None,
            expiry_ms: None,
            generated_ms: None,
            version: None,
            identity_type: None,
            identity_scope: None,
            is_client_side_generated: false,
        }
    }

    /// True when the status is [`Status::Success`].
    pub fn is_success(&self) -> bool {
        self.status == Status::Success
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_distinct() {
        let mut seen = std::collections::HashSet::new();
        for s in Status::ALL {
            assert!(seen.insert(s.as_str()), "duplicate name {s}");
            assert_eq!(Status::from_name(s.as_str()), Some(s));
        }
        assert_eq!(
            Status::from_name("DOMAIN_OR_APP_NAME_CHECK_FAILED"),
            Some(Status::DomainNameCheckFailed)
        );
        assert_eq!(Status::from_name("NONE"), None);
    }
}
