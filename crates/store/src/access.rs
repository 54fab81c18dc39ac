//! Who may act: users, API tokens, devices, login throttling and the audit log.
//!
//! The store keeps only hashes: an argon2id password hash computed by the server, and the
//! SHA-256 of each token secret. A token is owned by exactly one user or one device, and
//! [`Store::bearer`] resolves a secret's hash to its owner in one query, so revocation,
//! expiry and disabling take effect on the very next request.

use chrono::{DateTime, Utc};
use jianghai_core::{Ident, Organisation, ledger::format_time};
use uuid::Uuid;

use crate::registry::{exists_error, ident};
use crate::{Page, Store, StoreError, on_backend};

/// A user's role within its organisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Administers the organisation (users, devices, tokens) and acts for it.
    Admin,
    /// Acts for the organisation: manifests, business steps.
    Operator,
    /// Reads only.
    Viewer,
}

impl Role {
    pub const ALL: [Role; 3] = [Role::Admin, Role::Operator, Role::Viewer];

    pub fn as_str(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Operator => "operator",
            Role::Viewer => "viewer",
        }
    }

    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }
}

/// What a device is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceKind {
    Sensor,
    Camera,
    AisReceiver,
    ESeal,
}

impl DeviceKind {
    pub const ALL: [DeviceKind; 4] = [
        DeviceKind::Sensor,
        DeviceKind::Camera,
        DeviceKind::AisReceiver,
        DeviceKind::ESeal,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            DeviceKind::Sensor => "sensor",
            DeviceKind::Camera => "camera",
            DeviceKind::AisReceiver => "ais_receiver",
            DeviceKind::ESeal => "e_seal",
        }
    }

    pub fn parse(s: &str) -> Option<DeviceKind> {
        DeviceKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq)]
pub struct UserRecord {
    pub id: Uuid,
    pub organisation: Ident,
    pub username: String,
    pub password_hash: String,
    pub role: Role,
    pub created_at: String,
    pub disabled_at: Option<String>,
}

/// A device as stored (its credential is a token owned by it).
#[derive(Debug, Clone, PartialEq)]
pub struct DeviceRecord {
    pub id: Ident,
    pub organisation: Ident,
    pub kind: DeviceKind,
    pub name: String,
    pub created_at: String,
    pub disabled_at: Option<String>,
}

/// Who a token acts for.
#[derive(Debug, Clone, PartialEq)]
pub enum TokenOwner {
    User(Uuid),
    Device(Ident),
}

/// A token as stored: never the secret, only its hash.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenRecord {
    pub id: Uuid,
    pub secret_hash: String,
    pub owner: TokenOwner,
    pub name: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
}

impl TokenRecord {
    /// Whether the token may be used at `now`: not revoked and not expired.
    pub fn usable_at(&self, now: DateTime<Utc>) -> Result<(), TokenUnusable> {
        if self.revoked_at.is_some() {
            return Err(TokenUnusable::Revoked);
        }
        match &self.expires_at {
            Some(exp) if *exp <= format_time(now) => Err(TokenUnusable::Expired),
            _ => Ok(()),
        }
    }
}

/// Why a known token cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenUnusable {
    Revoked,
    Expired,
}

/// What a presented secret resolves to.
#[derive(Debug, Clone, PartialEq)]
pub enum Bearer {
    User {
        token: TokenRecord,
        user: UserRecord,
        organisation: Organisation,
    },
    Device {
        token: TokenRecord,
        device: DeviceRecord,
        organisation: Organisation,
    },
}

/// Failed logins counted for one key (a username or a client address).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Throttle {
    pub failures: i64,
    pub first_at: String,
    pub locked_until: Option<String>,
}

/// One line of the audit log: who did what to which object, and how it ended.
#[derive(Debug, Clone, PartialEq)]
pub struct AuditEntry {
    pub id: Uuid,
    pub at: String,
    pub organisation: Option<String>,
    /// `user:NAME`, `device:ID`, or `anonymous`.
    pub principal: Option<String>,
    pub method: String,
    /// The route template, e.g. `/api/v1/vehicles/{vin}`.
    pub route: String,
    /// The concrete path, naming the object.
    pub object: String,
    pub status: i32,
    pub request_id: Option<String>,
}

/// Which users or devices a listing may return.
#[derive(Debug, Clone, PartialEq)]
pub enum MemberScope {
    All,
    Of(Ident),
}

impl MemberScope {
    /// Whether members of `org` are in this scope.
    pub fn covers(&self, org: &Ident) -> bool {
        match self {
            MemberScope::All => true,
            MemberScope::Of(o) => o == org,
        }
    }

    fn org(&self) -> &str {
        match self {
            MemberScope::All => "",
            MemberScope::Of(o) => o.as_str(),
        }
    }
}

type UserRow = (
    String,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
);
/// The 22 text columns of [`Store::bearer`]'s join, in select order.
struct BearerRow(Vec<Option<String>>);

type DeviceRow = (String, String, String, String, String, Option<String>);
type TokenRow = (
    String,
    String,
    Option<String>,
    Option<String>,
    String,
    String,
    Option<String>,
    Option<String>,
);

const USER_COLUMNS: &str =
    "u.id, u.organisation, u.username, u.password_hash, u.role, u.created_at, u.disabled_at";
const DEVICE_COLUMNS: &str = "d.id, d.organisation, d.kind, d.name, d.created_at, d.disabled_at";
const TOKEN_COLUMNS: &str =
    "t.id, t.secret_hash, t.user_id, t.device_id, t.name, t.created_at, t.expires_at, t.revoked_at";

fn uuid(s: &str) -> Result<Uuid, StoreError> {
    Uuid::parse_str(s).map_err(|e| StoreError::Corrupt(format!("id {s:?}: {e}")))
}

fn user(r: UserRow) -> Result<UserRecord, StoreError> {
    Ok(UserRecord {
        id: uuid(&r.0)?,
        organisation: ident(r.1)?,
        username: r.2,
        password_hash: r.3,
        role: Role::parse(&r.4).ok_or_else(|| StoreError::Corrupt(format!("role {:?}", r.4)))?,
        created_at: r.5,
        disabled_at: r.6,
    })
}

fn device(r: DeviceRow) -> Result<DeviceRecord, StoreError> {
    Ok(DeviceRecord {
        id: ident(r.0)?,
        organisation: ident(r.1)?,
        kind: DeviceKind::parse(&r.2)
            .ok_or_else(|| StoreError::Corrupt(format!("device kind {:?}", r.2)))?,
        name: r.3,
        created_at: r.4,
        disabled_at: r.5,
    })
}

fn token(r: TokenRow) -> Result<TokenRecord, StoreError> {
    let owner = match (r.2, r.3) {
        (Some(u), None) => TokenOwner::User(uuid(&u)?),
        (None, Some(d)) => TokenOwner::Device(ident(d)?),
        _ => return Err(StoreError::Corrupt(format!("token {} has no owner", r.0))),
    };
    Ok(TokenRecord {
        id: uuid(&r.0)?,
        secret_hash: r.1,
        owner,
        name: r.4,
        created_at: r.5,
        expires_at: r.6,
        revoked_at: r.7,
    })
}

/// Splits one extra fetched row off into the next cursor.
pub(crate) fn page<T>(mut items: Vec<T>, limit: i64, cursor: impl Fn(&T) -> String) -> Page<T> {
    let limit = usize::try_from(limit).unwrap_or(0);
    let next = if items.len() > limit {
        items.truncate(limit);
        items.last().map(cursor)
    } else {
        None
    };
    Page { items, next }
}

impl Store {
    /// Runs a keyset-paged list whose parameters are `$1` the cursor, `$2` the scope's value and
    /// `$3` the row limit; one row more than `limit` is fetched to know whether a page follows.
    pub(crate) async fn scoped_page<R, T>(
        &self,
        sql: String,
        after: &str,
        param: &str,
        limit: i64,
        convert: impl Fn(R) -> Result<T, StoreError>,
        cursor: impl Fn(&T) -> String,
    ) -> Result<Page<T>, StoreError>
    where
        R: for<'r> sqlx::FromRow<'r, sqlx::sqlite::SqliteRow>
            + for<'r> sqlx::FromRow<'r, sqlx::postgres::PgRow>
            + Send
            + Unpin,
    {
        let rows: Vec<R> = on_backend!(&self.backend, |pool| sqlx::query_as(sqlx::AssertSqlSafe(
            sql
        ))
        .bind(after)
        .bind(param)
        .bind(limit + 1)
        .fetch_all(pool)
        .await?);
        let items = rows
            .into_iter()
            .map(convert)
            .collect::<Result<Vec<_>, _>>()?;
        Ok(page(items, limit, cursor))
    }
}

impl Store {
    /// Creates a user; the username must be new and the organisation must exist.
    pub async fn create_user(&self, u: &UserRecord) -> Result<(), StoreError> {
        on_backend!(&self.backend, |pool| {
            sqlx::query(
            "INSERT INTO users (id, organisation, username, password_hash, role, created_at, disabled_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)"
        )
        .bind(u.id.to_string())
        .bind(u.organisation.as_str())
        .bind(&u.username)
        .bind(&u.password_hash)
        .bind(u.role.as_str())
        .bind(&u.created_at)
        .bind(&u.disabled_at)
        .execute(pool)
        .await
        .map_err(|e| exists_error(e, "user", &u.username))
        .map(drop)?
        });
        Ok(())
    }

    /// The user named `username`, if any (disabled users too).
    pub async fn user_by_username(&self, username: &str) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.username = $1");
        let row: Option<UserRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            sqlx::AssertSqlSafe(sql)
        )
        .bind(username)
        .fetch_optional(pool)
        .await?);
        row.map(user).transpose()
    }

    /// The user with `id`, if any.
    pub async fn user(&self, id: Uuid) -> Result<Option<UserRecord>, StoreError> {
        let sql = format!("SELECT {USER_COLUMNS} FROM users u WHERE u.id = $1");
        let row: Option<UserRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            sqlx::AssertSqlSafe(sql)
        )
        .bind(id.to_string())
        .fetch_optional(pool)
        .await?);
        row.map(user).transpose()
    }

    /// Users in `scope`, by id, after the cursor `after`.
    pub async fn users(
        &self,
        scope: &MemberScope,
        after: &str,
        limit: i64,
    ) -> Result<Page<UserRecord>, StoreError> {
        let filter = match scope {
            MemberScope::All => "$2 = ''",
            MemberScope::Of(_) => "u.organisation = $2",
        };
        let sql = format!(
            "SELECT {USER_COLUMNS} FROM users u WHERE u.id > $1 AND {filter} ORDER BY u.id LIMIT $3"
        );
        self.scoped_page::<UserRow, _>(sql, after, scope.org(), limit, user, |u| u.id.to_string())
            .await
    }

    /// Disables a user at `now`; its tokens stop working at once. False when there is no such
    /// user. Disabling twice keeps the first time.
    pub async fn disable_user(&self, id: Uuid, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let now = format_time(now);
        let n = on_backend!(&self.backend, |pool| sqlx::query(
            "UPDATE users SET disabled_at = COALESCE(disabled_at, $2) WHERE id = $1"
        )
        .bind(id.to_string())
        .bind(&now)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(n > 0)
    }

    /// Enables a disabled user again; tokens issued before the disabling stay revoked only if
    /// they were revoked. False when there is no such user.
    pub async fn enable_user(&self, id: Uuid) -> Result<bool, StoreError> {
        let n = on_backend!(&self.backend, |pool| sqlx::query(
            "UPDATE users SET disabled_at = NULL WHERE id = $1"
        )
        .bind(id.to_string())
        .execute(pool)
        .await?
        .rows_affected());
        Ok(n > 0)
    }

    /// Stores a token (for a user; device credentials come with [`Store::create_device`]).
    pub async fn create_token(&self, t: &TokenRecord) -> Result<(), StoreError> {
        let (user_id, device_id) = match &t.owner {
            TokenOwner::User(u) => (Some(u.to_string()), None),
            TokenOwner::Device(d) => (None, Some(d.to_string())),
        };
        on_backend!(&self.backend, |pool| {
            sqlx::query(
            "INSERT INTO api_tokens (id, secret_hash, user_id, device_id, name, created_at, expires_at, revoked_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
        )
        .bind(t.id.to_string())
        .bind(&t.secret_hash)
        .bind(user_id)
        .bind(device_id)
        .bind(&t.name)
        .bind(&t.created_at)
        .bind(&t.expires_at)
        .bind(&t.revoked_at)
        .execute(pool)
        .await
        .map(drop)?
        });
        Ok(())
    }

    /// Resolves a secret's hash to the token and its owner, in one query. The caller decides
    /// what revocation, expiry and disabling mean.
    pub async fn bearer(&self, secret_hash: &str) -> Result<Option<Bearer>, StoreError> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS}, \
             u.organisation, u.username, u.password_hash, u.role, u.created_at, u.disabled_at, \
             d.organisation, d.kind, d.name, d.created_at, d.disabled_at, \
             o.id, o.name, o.kind \
             FROM api_tokens t \
             LEFT JOIN users u ON u.id = t.user_id \
             LEFT JOIN devices d ON d.id = t.device_id \
             JOIN organisations o ON o.id = COALESCE(u.organisation, d.organisation) \
             WHERE t.secret_hash = $1"
        );
        let row: Option<BearerRow> = on_backend!(&self.backend, |pool| {
            use sqlx::Row;
            sqlx::query(sqlx::AssertSqlSafe(sql))
                .bind(secret_hash)
                .fetch_optional(pool)
                .await?
                .map(|r| -> Result<BearerRow, sqlx::Error> {
                    let mut s: Vec<Option<String>> = Vec::with_capacity(22);
                    for i in 0..22 {
                        s.push(r.try_get::<Option<String>, _>(i)?);
                    }
                    Ok(BearerRow(s))
                })
                .transpose()?
        });
        let Some(BearerRow(mut c)) = row else {
            return Ok(None);
        };
        let mut take = |i: usize| c.get_mut(i).and_then(Option::take);
        let need = |v: Option<String>| {
            v.ok_or_else(|| StoreError::Corrupt("token row is missing a column".into()))
        };
        let t = token((
            need(take(0))?,
            need(take(1))?,
            take(2),
            take(3),
            need(take(4))?,
            need(take(5))?,
            take(6),
            take(7),
        ))?;
        let organisation =
            crate::registry::organisation((need(take(19))?, need(take(20))?, need(take(21))?))?;
        Ok(Some(match &t.owner {
            TokenOwner::User(id) => {
                let user = user((
                    id.to_string(),
                    need(take(8))?,
                    need(take(9))?,
                    need(take(10))?,
                    need(take(11))?,
                    need(take(12))?,
                    take(13),
                ))?;
                Bearer::User {
                    token: t,
                    user,
                    organisation,
                }
            }
            TokenOwner::Device(id) => {
                let device = device((
                    id.to_string(),
                    need(take(14))?,
                    need(take(15))?,
                    need(take(16))?,
                    need(take(17))?,
                    take(18),
                ))?;
                Bearer::Device {
                    token: t,
                    device,
                    organisation,
                }
            }
        }))
    }

    /// Tokens owned by `user`, by id (secrets are never stored, so never returned).
    pub async fn tokens_of(
        &self,
        user: Uuid,
        after: &str,
        limit: i64,
    ) -> Result<Page<TokenRecord>, StoreError> {
        let sql = format!(
            "SELECT {TOKEN_COLUMNS} FROM api_tokens t WHERE t.user_id = $1 AND t.id > $2 \
             ORDER BY t.id LIMIT $3"
        );
        let rows: Vec<TokenRow> = on_backend!(&self.backend, |pool| sqlx::query_as(
            sqlx::AssertSqlSafe(sql)
        )
        .bind(user.to_string())
        .bind(after)
        .bind(limit + 1)
        .fetch_all(pool)
        .await?);
        let items = rows.into_iter().map(token).collect::<Result<Vec<_>, _>>()?;
        Ok(page(items, limit, |t| t.id.to_string()))
    }

    /// Revokes token `id` if `owner` owns it; effective at once. False when there is no such
    /// token of that owner. Revoking twice keeps the first time.
    pub async fn revoke_token(
        &self,
        id: Uuid,
        owner: Uuid,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let now = format_time(now);
        let n = on_backend!(&self.backend, |pool| {
            sqlx::query(
            "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $3) WHERE id = $1 AND user_id = $2"
        )
        .bind(id.to_string())
        .bind(owner.to_string())
        .bind(&now)
        .execute(pool)
        .await?
        .rows_affected()
        });
        Ok(n > 0)
    }

    /// Registers a device together with its credential (a token it owns), in one transaction.
    pub async fn create_device(
        &self,
        d: &DeviceRecord,
        credential: &TokenRecord,
    ) -> Result<(), StoreError> {
        on_backend!(&self.backend, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "INSERT INTO devices (id, organisation, kind, name, created_at, disabled_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(d.id.as_str())
            .bind(d.organisation.as_str())
            .bind(d.kind.as_str())
            .bind(&d.name)
            .bind(&d.created_at)
            .bind(&d.disabled_at)
            .execute(&mut *tx)
            .await
            .map_err(|e| exists_error(e, "device", d.id.as_str()))?;
            sqlx::query(
                "INSERT INTO api_tokens (id, secret_hash, user_id, device_id, name, created_at, expires_at, revoked_at) \
                 VALUES ($1, $2, NULL, $3, $4, $5, $6, NULL)",
            )
            .bind(credential.id.to_string())
            .bind(&credential.secret_hash)
            .bind(d.id.as_str())
            .bind(&credential.name)
            .bind(&credential.created_at)
            .bind(&credential.expires_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// The device `id`.
    pub async fn device(&self, id: &str) -> Result<Option<DeviceRecord>, StoreError> {
        let sql = format!("SELECT {DEVICE_COLUMNS} FROM devices d WHERE d.id = $1");
        let row: Option<DeviceRow> = on_backend!(&self.backend, |pool| {
            sqlx::query_as(sqlx::AssertSqlSafe(sql))
                .bind(id)
                .fetch_optional(pool)
                .await?
        });
        row.map(device).transpose()
    }

    /// Replaces a device's credential: every earlier one is revoked at `now` and `credential`
    /// becomes its only valid one, in one transaction, so a leaked credential dies the moment
    /// the new one exists.
    pub async fn rotate_device_credential(
        &self,
        device: &Ident,
        credential: &TokenRecord,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let now = format_time(now);
        on_backend!(&self.backend, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, $2) WHERE device_id = $1",
            )
            .bind(device.as_str())
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "INSERT INTO api_tokens (id, secret_hash, user_id, device_id, name, created_at, expires_at, revoked_at) \
                 VALUES ($1, $2, NULL, $3, $4, $5, $6, NULL)",
            )
            .bind(credential.id.to_string())
            .bind(&credential.secret_hash)
            .bind(device.as_str())
            .bind(&credential.name)
            .bind(&credential.created_at)
            .bind(&credential.expires_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
        });
        Ok(())
    }

    /// Disables a device at `now`: its credentials stop working at once. Disabling twice keeps
    /// the first time.
    pub async fn disable_device(&self, id: &Ident, now: DateTime<Utc>) -> Result<bool, StoreError> {
        let now = format_time(now);
        let n = on_backend!(&self.backend, |pool| sqlx::query(
            "UPDATE devices SET disabled_at = COALESCE(disabled_at, $2) WHERE id = $1"
        )
        .bind(id.as_str())
        .bind(&now)
        .execute(pool)
        .await?
        .rows_affected());
        Ok(n > 0)
    }

    /// Devices in `scope`, by id.
    pub async fn devices(
        &self,
        scope: &MemberScope,
        after: &str,
        limit: i64,
    ) -> Result<Page<DeviceRecord>, StoreError> {
        let filter = match scope {
            MemberScope::All => "$2 = ''",
            MemberScope::Of(_) => "d.organisation = $2",
        };
        let sql = format!(
            "SELECT {DEVICE_COLUMNS} FROM devices d WHERE d.id > $1 AND {filter} ORDER BY d.id LIMIT $3"
        );
        self.scoped_page::<DeviceRow, _>(sql, after, scope.org(), limit, device, |d| {
            d.id.to_string()
        })
        .await
    }

    /// The failed-login record of `key`, if any.
    pub async fn login_throttle(&self, key: &str) -> Result<Option<Throttle>, StoreError> {
        let row: Option<(i64, String, Option<String>)> =
            on_backend!(&self.backend, |pool| sqlx::query_as(
                "SELECT failures, first_at, locked_until FROM login_throttle WHERE key = $1"
            )
            .bind(key)
            .fetch_optional(pool)
            .await?);
        Ok(row.map(|(failures, first_at, locked_until)| Throttle {
            failures,
            first_at,
            locked_until,
        }))
    }

    /// Counts one failed login for `key` in one statement: failures older than `window` start
    /// a new count; reaching `max` failures within the window locks the key for `lock`.
    pub async fn record_login_failure(
        &self,
        key: &str,
        now: DateTime<Utc>,
        window: chrono::Duration,
        max: i64,
        lock: chrono::Duration,
    ) -> Result<Throttle, StoreError> {
        let now_s = format_time(now);
        let window_start = format_time(now - window);
        let locked_until = format_time(now + lock);
        let (failures, first_at, locked_until): (i64, String, Option<String>) = on_backend!(
            &self.backend,
            |pool| {
                sqlx::query_as(
                "INSERT INTO login_throttle (key, failures, first_at, locked_until) \
                 VALUES ($1, 1, $2, CASE WHEN $4 <= 1 THEN $5 ELSE NULL END) \
                 ON CONFLICT (key) DO UPDATE SET \
                 failures = CASE WHEN login_throttle.first_at < $3 THEN 1 \
                                 ELSE login_throttle.failures + 1 END, \
                 locked_until = CASE \
                     WHEN login_throttle.first_at < $3 THEN (CASE WHEN $4 <= 1 THEN $5 ELSE NULL END) \
                     WHEN login_throttle.failures + 1 >= $4 THEN $5 \
                     ELSE login_throttle.locked_until END, \
                 first_at = CASE WHEN login_throttle.first_at < $3 THEN $2 \
                                 ELSE login_throttle.first_at END \
                 RETURNING failures, first_at, locked_until"
            )
            .bind(key)
            .bind(&now_s)
            .bind(&window_start)
            .bind(max)
            .bind(&locked_until)
            .fetch_one(pool)
            .await?
            }
        );
        Ok(Throttle {
            failures,
            first_at,
            locked_until,
        })
    }

    /// Forgets the failed logins of `key` (after a successful login).
    pub async fn clear_login_failures(&self, key: &str) -> Result<(), StoreError> {
        on_backend!(&self.backend, |pool| sqlx::query(
            "DELETE FROM login_throttle WHERE key = $1"
        )
        .bind(key)
        .execute(pool)
        .await
        .map(drop)?);
        Ok(())
    }

    /// The audit log, oldest first (ids are time-ordered UUIDv7), after the cursor `after`.
    pub async fn audit_log(&self, after: &str, limit: i64) -> Result<Page<AuditEntry>, StoreError> {
        type Row = (
            String,
            String,
            Option<String>,
            Option<String>,
            String,
            String,
            String,
            i32,
            Option<String>,
        );
        let rows: Vec<Row> = on_backend!(&self.backend, |pool| sqlx::query_as(
            "SELECT id, at, organisation, principal, method, route, object, status, request_id \
             FROM audit_log WHERE id > $1 ORDER BY id LIMIT $2"
        )
        .bind(after)
        .bind(limit + 1)
        .fetch_all(pool)
        .await?);
        let items = rows
            .into_iter()
            .map(|r| {
                Ok(AuditEntry {
                    id: uuid(&r.0)?,
                    at: r.1,
                    organisation: r.2,
                    principal: r.3,
                    method: r.4,
                    route: r.5,
                    object: r.6,
                    status: r.7,
                    request_id: r.8,
                })
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        Ok(page(items, limit, |e| e.id.to_string()))
    }
}
