//! First start: make sure the platform has an operator administrator.
//!
//! When no user `admin` exists, one is created in the operator organisation (created too if
//! there is none) with the password from `JIANGHAI_ADMIN_PASSWORD`, or a generated one-time
//! password that the caller prints once.

use chrono::Utc;
use jianghai_core::ledger::format_time;
use jianghai_core::{Ident, OrgKind, Organisation};
use jianghai_store::{Role, Store, UserRecord};
use uuid::Uuid;

use crate::auth;

/// Name of the first administrator.
pub const ADMIN: &str = "admin";

/// What [`ensure_admin`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum Admin {
    /// `admin` already existed.
    Existing,
    /// Created with the given password.
    Created { organisation: String },
    /// Created with this generated password, to be shown once.
    Generated {
        organisation: String,
        password: String,
    },
}

/// Creates `admin` if missing, with `password` or a generated one.
pub async fn ensure_admin(store: &Store, password: Option<&str>) -> anyhow::Result<Admin> {
    if store.user_by_username(ADMIN).await?.is_some() {
        return Ok(Admin::Existing);
    }
    let operator = match store
        .organisations()
        .await?
        .into_iter()
        .find(|o| o.kind == OrgKind::Operator)
    {
        Some(o) => o.id,
        None => {
            let org = Organisation {
                id: Ident::parse("platform-operator")?,
                name: "Platform operator".into(),
                kind: OrgKind::Operator,
            };
            store.create_organisation(&org).await?;
            org.id
        }
    };
    let (password, generated) = match password {
        Some(p) if p.chars().count() >= 12 => (p.to_string(), false),
        Some(_) => anyhow::bail!("JIANGHAI_ADMIN_PASSWORD must be at least 12 characters"),
        None => {
            let secret = auth::new_secret("").map_err(|e| anyhow::anyhow!("{}", e.detail))?;
            (secret[..24].to_string(), true)
        }
    };
    let hash = auth::hash_password(&password).map_err(|e| anyhow::anyhow!("{}", e.detail))?;
    store
        .create_user(&UserRecord {
            id: Uuid::now_v7(),
            organisation: operator.clone(),
            username: ADMIN.into(),
            password_hash: hash,
            role: Role::Admin,
            created_at: format_time(Utc::now()),
            disabled_at: None,
        })
        .await?;
    Ok(if generated {
        Admin::Generated {
            organisation: operator.to_string(),
            password,
        }
    } else {
        Admin::Created {
            organisation: operator.to_string(),
        }
    })
}

/// Creates user `username` in `organisation` with `password` unless the username exists.
/// Returns whether it was created.
pub async fn ensure_user(
    store: &Store,
    organisation: &Ident,
    username: &str,
    password: &str,
    role: Role,
) -> anyhow::Result<bool> {
    if store.user_by_username(username).await?.is_some() {
        return Ok(false);
    }
    let hash = auth::hash_password(password).map_err(|e| anyhow::anyhow!("{}", e.detail))?;
    store
        .create_user(&UserRecord {
            id: Uuid::now_v7(),
            organisation: organisation.clone(),
            username: username.into(),
            password_hash: hash,
            role,
            created_at: format_time(Utc::now()),
            disabled_at: None,
        })
        .await?;
    Ok(true)
}
