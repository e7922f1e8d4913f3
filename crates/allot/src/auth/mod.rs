//! API tokens: bearer secrets stored as SHA-256 hashes, each with a name and
//! scopes. A scope is `MODULE:read` or `MODULE:write` (write implies read),
//! `admin` (token management), or `*` (everything).

mod store;

pub use store::{TokenRecord, TokenStore};

use rand::RngCore;
use sha2::{Digest, Sha256};

/// Every scope a token can carry, for validation and help texts.
pub const KNOWN_SCOPES: &[&str] = &[
    "*",
    "admin",
    "jobs:read",
    "jobs:write",
    "booking:read",
    "booking:write",
    "calendar:read",
    "calendar:write",
    "provisioning:read",
    "provisioning:write",
];

/// A new random token secret: `allot_` and 64 hex digits (256 bits).
pub fn generate_secret() -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!("allot_{}", hex::encode(bytes))
}

pub fn hash_secret(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// Whether `granted` scopes allow `required`.
pub fn allows(granted: &[String], required: &str) -> bool {
    granted.iter().any(|g| {
        g == "*"
            || g == required
            || (required.ends_with(":read")
                && g.ends_with(":write")
                && g.trim_end_matches(":write") == required.trim_end_matches(":read"))
    })
}

/// Checks scope names a user asked for.
pub fn validate_scopes(scopes: &[String]) -> Result<(), String> {
    for s in scopes {
        if !KNOWN_SCOPES.contains(&s.as_str()) {
            return Err(format!(
                "unknown scope {s:?}; known scopes: {}",
                KNOWN_SCOPES.join(", ")
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn write_implies_read_of_the_same_module_only() {
        assert!(allows(&s(&["jobs:write"]), "jobs:read"));
        assert!(allows(&s(&["jobs:write"]), "jobs:write"));
        assert!(!allows(&s(&["jobs:read"]), "jobs:write"));
        assert!(!allows(&s(&["booking:write"]), "jobs:read"));
        assert!(allows(&s(&["*"]), "admin"));
        assert!(!allows(&s(&["jobs:write"]), "admin"));
    }

    #[test]
    fn secrets_are_random_and_hash_stably() {
        let a = generate_secret();
        assert_ne!(a, generate_secret());
        assert_eq!(hash_secret(&a), hash_secret(&a));
        assert_eq!(hash_secret(&a).len(), 64);
    }
}
