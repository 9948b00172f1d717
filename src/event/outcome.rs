//! What became of a request, from `properties.httpStatusCode`.
//!
//! Key Vault writes `resultType: "Success"` on every record, denied ones included, so
//! the outcome is derived from the HTTP status, refined by the access flags and the
//! service's error text (which tells an RBAC denial from an access-policy or firewall
//! denial). The SDK's unauthenticated first request (`Authentication`, 401, no
//! identity) is its own class, `challenge`, because it is benign noise.

use std::fmt;

use serde::Serialize;

/// The outcome classes detectors and metrics use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// 1xx-3xx: served.
    Ok,
    /// The SDK challenge: `Authentication` 401 carrying no identity. Benign.
    Challenge,
    /// 401 with a token: expired, forged, wrong audience or wrong tenant.
    AuthnFailed,
    /// 403 by role-based access control (`isRbacAuthorized: false`).
    DeniedRbac,
    /// 403 by the vault's access policies (`isAccessPolicyMatch: false`).
    DeniedPolicy,
    /// 403 by the vault firewall (`isAddressAuthorized: false`).
    DeniedNetwork,
    /// 404: the object does not exist (name guessing when bursty).
    NotFound,
    /// 429: the vault throttled the caller (a bulk-retrieval booster).
    Throttled,
    /// Every other failure (400, 409, 5xx, a 403 of no known kind).
    OtherError,
}

impl Outcome {
    /// Every outcome, in a stable order.
    pub const ALL: [Outcome; 9] = [
        Self::Ok,
        Self::Challenge,
        Self::AuthnFailed,
        Self::DeniedRbac,
        Self::DeniedPolicy,
        Self::DeniedNetwork,
        Self::NotFound,
        Self::Throttled,
        Self::OtherError,
    ];

    /// The stable snake_case label.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Challenge => "challenge",
            Self::AuthnFailed => "authn_failed",
            Self::DeniedRbac => "denied_rbac",
            Self::DeniedPolicy => "denied_policy",
            Self::DeniedNetwork => "denied_network",
            Self::NotFound => "not_found",
            Self::Throttled => "throttled",
            Self::OtherError => "other_error",
        }
    }

    /// Index into [`Outcome::ALL`].
    pub fn index(self) -> usize {
        self as usize
    }

    /// An authentication failure or an authorisation denial (not a challenge).
    pub fn is_denial(self) -> bool {
        matches!(
            self,
            Self::AuthnFailed | Self::DeniedRbac | Self::DeniedPolicy | Self::DeniedNetwork
        )
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The facts an outcome is decided from.
#[derive(Debug, Clone, Copy, Default)]
pub struct OutcomeFacts<'r> {
    /// `properties.httpStatusCode`.
    pub status: u16,
    /// The operation is `Authentication`.
    pub is_authentication: bool,
    /// The record carries an identity (a token was presented).
    pub has_identity: bool,
    /// `isRbacAuthorized`.
    pub rbac_authorized: Option<bool>,
    /// `isAccessPolicyMatch`.
    pub access_policy_match: Option<bool>,
    /// `isAddressAuthorized`.
    pub address_authorized: Option<bool>,
    /// `resultDescription`, the service's error text.
    pub description: Option<&'r str>,
}

/// Classifies a request's outcome.
pub fn classify(f: &OutcomeFacts<'_>) -> Outcome {
    match f.status {
        100..=399 => Outcome::Ok,
        401 if f.is_authentication && !f.has_identity => Outcome::Challenge,
        401 => Outcome::AuthnFailed,
        403 => classify_forbidden(f),
        404 => Outcome::NotFound,
        429 => Outcome::Throttled,
        _ => Outcome::OtherError,
    }
}

fn classify_forbidden(f: &OutcomeFacts<'_>) -> Outcome {
    let text = f.description.unwrap_or("");
    // The firewall is evaluated before authorisation, so it wins.
    if f.address_authorized == Some(false) || text.contains("Client address is not authorized") {
        Outcome::DeniedNetwork
    } else if f.rbac_authorized == Some(false)
        || text.contains("Caller is not authorized to perform action")
    {
        Outcome::DeniedRbac
    } else if f.access_policy_match == Some(false)
        || text.contains("not found on any access policy")
        || (text.contains("does not have") && text.contains("permission"))
    {
        Outcome::DeniedPolicy
    } else {
        Outcome::OtherError
    }
}

/// Maps an HTTP reason phrase (`resultSignature`) to its status, for records
/// that lack `httpStatusCode`.
pub fn status_from_reason(reason: &str) -> Option<u16> {
    const TABLE: &[(&str, u16)] = &[
        ("OK", 200),
        ("Created", 201),
        ("Accepted", 202),
        ("No Content", 204),
        ("Bad Request", 400),
        ("Unauthorized", 401),
        ("Forbidden", 403),
        ("Not Found", 404),
        ("Method Not Allowed", 405),
        ("Conflict", 409),
        ("Too Many Requests", 429),
        ("Internal Server Error", 500),
        ("Service Unavailable", 503),
    ];
    let reason = reason.trim();
    if let Ok(code) = reason.parse::<u16>() {
        return Some(code);
    }
    TABLE
        .iter()
        .find(|(phrase, _)| phrase.eq_ignore_ascii_case(reason))
        .map(|(_, code)| *code)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(status: u16) -> OutcomeFacts<'static> {
        OutcomeFacts {
            status,
            has_identity: true,
            ..Default::default()
        }
    }

    #[test]
    fn outcome_table() {
        let rbac = "Caller is not authorized to perform action on resource.\nIf role assignments";
        let policy = "The user, group or application 'appid=x' does not have keys purge permission";
        let firewall = "Client address is not authorized and caller is not a trusted service.";
        let table: Vec<(OutcomeFacts<'static>, Outcome)> = vec![
            (facts(200), Outcome::Ok),
            (facts(202), Outcome::Ok),
            (
                OutcomeFacts {
                    status: 401,
                    is_authentication: true,
                    ..Default::default()
                },
                Outcome::Challenge,
            ),
            (
                OutcomeFacts {
                    status: 401,
                    is_authentication: true,
                    has_identity: true,
                    ..Default::default()
                },
                Outcome::AuthnFailed,
            ),
            (
                OutcomeFacts {
                    status: 401,
                    ..Default::default()
                },
                Outcome::AuthnFailed,
            ),
            (
                OutcomeFacts {
                    rbac_authorized: Some(false),
                    ..facts(403)
                },
                Outcome::DeniedRbac,
            ),
            (
                OutcomeFacts {
                    description: Some(rbac),
                    ..facts(403)
                },
                Outcome::DeniedRbac,
            ),
            (
                OutcomeFacts {
                    access_policy_match: Some(false),
                    ..facts(403)
                },
                Outcome::DeniedPolicy,
            ),
            (
                OutcomeFacts {
                    description: Some(policy),
                    ..facts(403)
                },
                Outcome::DeniedPolicy,
            ),
            (
                OutcomeFacts {
                    address_authorized: Some(false),
                    rbac_authorized: Some(false),
                    ..facts(403)
                },
                Outcome::DeniedNetwork,
            ),
            (
                OutcomeFacts {
                    description: Some(firewall),
                    ..facts(403)
                },
                Outcome::DeniedNetwork,
            ),
            (
                OutcomeFacts {
                    description: Some("Operation get is not allowed on a disabled secret."),
                    ..facts(403)
                },
                Outcome::OtherError,
            ),
            (facts(404), Outcome::NotFound),
            (facts(429), Outcome::Throttled),
            (facts(409), Outcome::OtherError),
            (facts(500), Outcome::OtherError),
        ];
        for (i, (f, want)) in table.iter().enumerate() {
            assert_eq!(classify(f), *want, "row {i}: {f:?}");
        }
    }

    #[test]
    fn reasons_map_to_statuses() {
        assert_eq!(status_from_reason("Forbidden"), Some(403));
        assert_eq!(status_from_reason("too many requests"), Some(429));
        assert_eq!(status_from_reason("200"), Some(200));
        assert_eq!(status_from_reason("Succeeded.OK"), None);
    }
}
