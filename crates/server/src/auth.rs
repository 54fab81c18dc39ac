//! Authentication: who is calling. Passwords (argon2id), token secrets (random, shown once,
//! stored as SHA-256), the [`Principal`] extractor every `/api/v1` handler names, and the
//! per-token rate limiter.
//!
//! A request is authenticated from scratch each time: the token's hash is looked up with its
//! owner in one query, so revocation, expiry and disabling take effect on the next request.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use argon2::Argon2;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use chrono::Utc;
use jianghai_core::{OrgKind, Organisation};
use jianghai_store::{Bearer, Role, TokenUnusable};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::AppState;
use crate::audit::AuditSlot;
use crate::problem::ApiError;

/// Prefix of user token secrets (`jhu_…`) and device credentials (`jhd_…`).
pub const USER_TOKEN_PREFIX: &str = "jhu_";
pub const DEVICE_TOKEN_PREFIX: &str = "jhd_";

/// A new random secret: the prefix and 64 hex digits (256 bits from the OS RNG).
pub fn new_secret(prefix: &str) -> Result<String, ApiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(ApiError::internal)?;
    Ok(format!("{prefix}{}", hex::encode(bytes)))
}

/// What the store keeps of a secret.
pub fn secret_hash(secret: &str) -> String {
    hex::encode(Sha256::digest(secret.as_bytes()))
}

/// An argon2id PHC string for `password`, with a random salt.
pub fn hash_password(password: &str) -> Result<String, ApiError> {
    Argon2::default()
        .hash_password(password.as_bytes())
        .map(|h| h.to_string())
        .map_err(ApiError::internal)
}

/// Whether `password` matches the stored PHC string.
pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// The authenticated user behind a request. Every `/api/v1` handler except login names it,
/// so no handler runs for an unauthenticated caller.
#[derive(Debug, Clone)]
pub struct Principal {
    pub user_id: Uuid,
    pub username: String,
    pub organisation: Organisation,
    pub role: Role,
    pub token_id: Uuid,
}

impl Principal {
    pub fn kind(&self) -> OrgKind {
        self.organisation.kind
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }
}

fn bearer_secret(parts: &Parts) -> Result<&str, ApiError> {
    let value = parts
        .headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| {
            ApiError::unauthorized(
                "unauthenticated",
                "send a token: Authorization: Bearer <token> (POST /api/v1/auth/login gives one)",
            )
        })?
        .to_str()
        .map_err(|_| {
            ApiError::unauthorized("invalid-token", "the Authorization header is not text")
        })?;
    let (scheme, secret) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("bearer") || secret.trim().is_empty() {
        return Err(ApiError::unauthorized(
            "invalid-token",
            "use the Bearer scheme: Authorization: Bearer <token>",
        ));
    }
    Ok(secret.trim())
}

impl FromRequestParts<AppState> for Principal {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let secret = bearer_secret(parts)?;
        let bearer = state.store.bearer(&secret_hash(secret)).await?;
        let now = Utc::now();
        let (token, user, organisation) = match bearer {
            None => {
                return Err(ApiError::unauthorized(
                    "invalid-token",
                    "the token is not known",
                ));
            }
            Some(Bearer::Device { device, .. }) => {
                if let Some(slot) = parts.extensions.get::<AuditSlot>() {
                    slot.set(
                        Some(device.organisation.to_string()),
                        format!("device:{}", device.id),
                    );
                }
                return Err(ApiError::forbidden(
                    "a device credential cannot act as a user; devices submit readings through ingestion",
                ));
            }
            Some(Bearer::User {
                token,
                user,
                organisation,
            }) => (token, user, organisation),
        };
        if let Some(slot) = parts.extensions.get::<AuditSlot>() {
            slot.set(
                Some(organisation.id.to_string()),
                format!("user:{}", user.username),
            );
        }
        match token.usable_at(now) {
            Ok(()) => {}
            Err(TokenUnusable::Revoked) => {
                return Err(ApiError::unauthorized(
                    "token-revoked",
                    "the token has been revoked",
                ));
            }
            Err(TokenUnusable::Expired) => {
                return Err(ApiError::unauthorized(
                    "token-expired",
                    "the token has expired; log in again",
                ));
            }
        }
        if user.disabled_at.is_some() {
            return Err(ApiError::unauthorized(
                "user-disabled",
                "the user has been disabled",
            ));
        }
        state.limiter.check(token.id)?;
        Ok(Principal {
            user_id: user.id,
            username: user.username,
            organisation,
            role: user.role,
            token_id: token.id,
        })
    }
}

/// The device behind a request to `POST /api/v1/readings`: a device credential, whose device
/// is enabled. A user token is refused (403): people do not submit readings.
#[derive(Debug, Clone)]
pub struct DeviceCaller(pub crate::ingest::DeviceAuth);

impl FromRequestParts<AppState> for DeviceCaller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        use crate::ingest::Refusal;
        let secret = bearer_secret(parts)?;
        let dev = match state.intake.device(secret).await? {
            Ok(d) => d,
            Err(Refusal::NotADevice) => {
                return Err(ApiError::forbidden(Refusal::NotADevice.reason()));
            }
            Err(r) => {
                let slug = match r {
                    Refusal::Revoked => "token-revoked",
                    Refusal::Expired => "token-expired",
                    Refusal::DeviceDisabled => "device-disabled",
                    _ => "invalid-token",
                };
                return Err(ApiError::unauthorized(slug, r.reason()));
            }
        };
        if let Some(slot) = parts.extensions.get::<AuditSlot>() {
            slot.set(
                Some(dev.organisation.id.to_string()),
                format!("device:{}", dev.device.id),
            );
        }
        // Devices share the per-token limiter with users.
        state.limiter.check(dev.token)?;
        Ok(DeviceCaller(dev))
    }
}

/// A token bucket per API token, in memory (per node).
#[derive(Debug, Clone)]
pub struct RateLimiter {
    burst: f64,
    per_second: f64,
    buckets: Arc<Mutex<HashMap<Uuid, (f64, Instant)>>>,
}

impl RateLimiter {
    pub fn new(burst: u32, per_second: u32) -> RateLimiter {
        RateLimiter {
            burst: f64::from(burst.max(1)),
            per_second: f64::from(per_second.max(1)),
            buckets: Default::default(),
        }
    }

    /// Takes one request from `token`'s bucket, or says how long to wait.
    pub fn check(&self, token: Uuid) -> Result<(), ApiError> {
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() > 100_000 {
            buckets.retain(|_, (_, at)| now.duration_since(*at).as_secs() < 60);
        }
        let (level, at) = buckets.entry(token).or_insert((self.burst, now));
        *level = (*level + now.duration_since(*at).as_secs_f64() * self.per_second).min(self.burst);
        *at = now;
        if *level >= 1.0 {
            *level -= 1.0;
            Ok(())
        } else {
            let wait = ((1.0 - *level) / self.per_second).ceil() as u64;
            Err(ApiError::too_many(
                format!(
                    "this token may make {} requests a second (bursts of {}); retry in {wait} s",
                    self.per_second, self.burst
                ),
                wait,
            ))
        }
    }
}
