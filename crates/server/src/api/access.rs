//! Authentication, organisations, users, tokens, devices and the audit log.

use std::sync::LazyLock;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use chrono::{Duration, Utc};
use jianghai_core::ledger::format_time;
use jianghai_core::{OrgKind, Organisation};
use jianghai_store::{
    AuditEntry, DeviceKind, DeviceRecord, Role, TokenOwner, TokenRecord, UserRecord,
};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use uuid::Uuid;

use super::{PageDto, ident};
use crate::AppState;
use crate::auth::{self, Principal};
use crate::extract::{ApiJson, ClientAddr, Paging};
use crate::policy::{self, Command};
use crate::problem::{ApiError, FieldError, Problem};

/// Lifetime of a token issued by login.
const LOGIN_TOKEN_HOURS: i64 = 12;
/// Longest lifetime a created token may ask for.
const MAX_TOKEN_DAYS: i64 = 365;
/// Shortest password accepted.
const MIN_PASSWORD: usize = 12;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenIssued {
    /// The secret: shown this once, stored only as a hash.
    pub token: String,
    pub token_id: Uuid,
    pub expires_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OrganisationDto {
    pub id: String,
    pub name: String,
    /// exporter, carrier, port, customs, coordinator or operator.
    pub kind: String,
}

fn org_dto(o: Organisation) -> OrganisationDto {
    OrganisationDto {
        id: o.id.to_string(),
        name: o.name,
        kind: o.kind.as_str().to_string(),
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserDto {
    pub id: Uuid,
    pub organisation: String,
    pub username: String,
    /// admin, operator or viewer.
    pub role: String,
    pub created_at: String,
    pub disabled_at: Option<String>,
}

fn user_dto(u: UserRecord) -> UserDto {
    UserDto {
        id: u.id,
        organisation: u.organisation.to_string(),
        username: u.username,
        role: u.role.as_str().to_string(),
        created_at: u.created_at,
        disabled_at: u.disabled_at,
    }
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MeDto {
    pub user: UserDto,
    pub organisation: OrganisationDto,
    pub token_id: Uuid,
}

static DUMMY_HASH: LazyLock<String> =
    LazyLock::new(|| auth::hash_password("not a real password").unwrap_or_default());

fn locked(t: &Option<jianghai_store::Throttle>, now: chrono::DateTime<Utc>) -> Option<u64> {
    let until = t.as_ref()?.locked_until.as_ref()?;
    let until = chrono::DateTime::parse_from_rfc3339(until).ok()?;
    let wait = until.with_timezone(&Utc) - now;
    (wait > Duration::zero()).then(|| wait.num_seconds().max(1) as u64)
}

/// Log in with a username and password; answers a bearer token (shown once).
///
/// After 5 failures for one username, or 20 from one address, within 15 minutes, logins for
/// it are refused for 15 minutes (429 with Retry-After).
#[utoipa::path(post, path = "/auth/login", tag = "auth", request_body = LoginRequest,
    responses((status = 200, body = TokenIssued), (status = 401, body = Problem), (status = 429, body = Problem)))]
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(client): ClientAddr,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<TokenIssued>, ApiError> {
    let now = Utc::now();
    let user_key = format!("user:{}", req.username);
    let ip_key = format!(
        "ip:{}",
        client
            .map(|c| c.ip().to_string())
            .unwrap_or_else(|| "unknown".into())
    );
    for key in [&user_key, &ip_key] {
        if let Some(wait) = locked(&state.store.login_throttle(key).await?, now) {
            return Err(ApiError::too_many(
                "too many failed logins; this account or address is locked for a while",
                wait,
            ));
        }
    }
    let user = state.store.user_by_username(&req.username).await?;
    let phc = user
        .as_ref()
        .map(|u| u.password_hash.clone())
        .unwrap_or_else(|| DUMMY_HASH.clone());
    let password = req.password.clone();
    let ok = tokio::task::spawn_blocking(move || auth::verify_password(&password, &phc))
        .await
        .map_err(ApiError::internal)?;
    let user = match user {
        Some(u) if ok && u.disabled_at.is_none() => u,
        _ => {
            let window = Duration::minutes(15);
            for (key, max) in [
                (&user_key, state.config.login_max_failures),
                (&ip_key, state.config.login_max_failures * 4),
            ] {
                state
                    .store
                    .record_login_failure(key, now, window, max, window)
                    .await?;
            }
            return Err(ApiError::unauthorized(
                "invalid-credentials",
                "the username or password is wrong, or the user is disabled",
            ));
        }
    };
    state.store.clear_login_failures(&user_key).await?;
    let issued = issue_token(
        &state,
        &user,
        "login",
        Some(now + Duration::hours(LOGIN_TOKEN_HOURS)),
    )
    .await?;
    Ok(Json(issued))
}

async fn issue_token(
    state: &AppState,
    user: &UserRecord,
    name: &str,
    expires: Option<chrono::DateTime<Utc>>,
) -> Result<TokenIssued, ApiError> {
    let secret = auth::new_secret(auth::USER_TOKEN_PREFIX)?;
    let t = TokenRecord {
        id: Uuid::now_v7(),
        secret_hash: auth::secret_hash(&secret),
        owner: TokenOwner::User(user.id),
        name: name.to_string(),
        created_at: format_time(Utc::now()),
        expires_at: expires.map(format_time),
        revoked_at: None,
    };
    state.store.create_token(&t).await?;
    Ok(TokenIssued {
        token: secret,
        token_id: t.id,
        expires_at: t.expires_at,
    })
}

/// Revoke the token this request was made with; it stops working at once.
#[utoipa::path(post, path = "/auth/logout", tag = "auth", security(("bearer" = [])),
    responses((status = 204), (status = 401, body = Problem)))]
pub async fn logout(State(state): State<AppState>, p: Principal) -> Result<StatusCode, ApiError> {
    state
        .store
        .revoke_token(p.token_id, p.user_id, Utc::now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Who am I: the user, organisation and token behind this request.
#[utoipa::path(get, path = "/me", tag = "auth", security(("bearer" = [])),
    responses((status = 200, body = MeDto), (status = 401, body = Problem)))]
pub async fn me(State(state): State<AppState>, p: Principal) -> Result<Json<MeDto>, ApiError> {
    let user = state
        .store
        .user(p.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("user-disabled", "the user no longer exists"))?;
    Ok(Json(MeDto {
        user: user_dto(user),
        organisation: org_dto(p.organisation),
        token_id: p.token_id,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganisation {
    pub id: String,
    pub name: String,
    pub kind: String,
}

/// Create an organisation (operator administrators).
#[utoipa::path(post, path = "/organisations", tag = "organisations", security(("bearer" = [])),
    request_body = NewOrganisation,
    responses((status = 201, body = OrganisationDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_organisation(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(req): ApiJson<NewOrganisation>,
) -> Result<(StatusCode, Json<OrganisationDto>), ApiError> {
    policy::may(&p, Command::CreateOrganisation)?;
    let mut errors = Vec::new();
    let id = jianghai_core::Ident::parse(&req.id)
        .map_err(|e| errors.push(FieldError::new("/id", e.to_string())))
        .ok();
    let kind = OrgKind::parse(&req.kind);
    if kind.is_none() {
        errors.push(FieldError::new(
            "/kind",
            "one of exporter, carrier, port, customs, coordinator, operator",
        ));
    }
    let name = req.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 200 {
        errors.push(FieldError::new("/name", "1 to 200 characters"));
    }
    let (Some(id), Some(kind), true) = (id, kind, errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    let org = Organisation { id, name, kind };
    state.store.create_organisation(&org).await?;
    Ok((StatusCode::CREATED, Json(org_dto(org))))
}

/// Organisations: operators and coordinators see all, others their own.
#[utoipa::path(get, path = "/organisations", tag = "organisations", security(("bearer" = [])),
    params(crate::extract::PageQuery),
    responses((status = 200, body = PageDto<OrganisationDto>)))]
pub async fn list_organisations(
    State(state): State<AppState>,
    p: Principal,
    page: Paging,
) -> Result<Json<PageDto<OrganisationDto>>, ApiError> {
    let scope = policy::organisations(&p);
    let page = state
        .store
        .organisations_in(&scope, &page.after, page.limit)
        .await?;
    Ok(Json(PageDto::map(page, org_dto)))
}

/// One organisation, if visible to the caller (404 otherwise).
#[utoipa::path(get, path = "/organisations/{id}", tag = "organisations", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = OrganisationDto), (status = 404, body = Problem)))]
pub async fn get_organisation(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<OrganisationDto>, ApiError> {
    let scope = policy::organisations(&p);
    let visible = match &scope {
        jianghai_store::OrgScope::All => true,
        jianghai_store::OrgScope::Only(o) => o.as_str() == id,
    };
    let org = if visible {
        state.store.organisation(&id).await?
    } else {
        None
    };
    org.map(|o| Json(org_dto(o)))
        .ok_or_else(|| ApiError::not_found("organisation", &id))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// Defaults to the caller's organisation.
    pub organisation: Option<String>,
    pub username: String,
    /// At least 12 characters.
    pub password: String,
    /// admin, operator or viewer.
    pub role: String,
}

/// Create a user (the organisation's administrators, or operator administrators).
#[utoipa::path(post, path = "/users", tag = "users", security(("bearer" = [])), request_body = NewUser,
    responses((status = 201, body = UserDto), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn create_user(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(req): ApiJson<NewUser>,
) -> Result<(StatusCode, Json<UserDto>), ApiError> {
    let org = match &req.organisation {
        Some(o) => ident("/organisation", o)?,
        None => p.organisation.id.clone(),
    };
    policy::may(&p, Command::Administer { org: &org })?;
    let mut errors = Vec::new();
    let username = req.username.trim().to_string();
    if username.is_empty()
        || username.len() > 64
        || !username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.@".contains(c))
    {
        errors.push(FieldError::new(
            "/username",
            "1 to 64 characters: letters, digits, - _ . @",
        ));
    }
    if req.password.chars().count() < MIN_PASSWORD || req.password.len() > 1024 {
        errors.push(FieldError::new(
            "/password",
            format!("at least {MIN_PASSWORD} characters (and at most 1024 bytes)"),
        ));
    }
    let role = Role::parse(&req.role);
    if role.is_none() {
        errors.push(FieldError::new("/role", "one of admin, operator, viewer"));
    }
    let Some(role) = role.filter(|_| errors.is_empty()) else {
        return Err(ApiError::validation(errors));
    };
    if state.store.organisation(org.as_str()).await?.is_none() {
        return Err(ApiError::field(
            "/organisation",
            format!("there is no organisation {org}"),
        ));
    }
    let password = req.password.clone();
    let password_hash = tokio::task::spawn_blocking(move || auth::hash_password(&password))
        .await
        .map_err(ApiError::internal)??;
    let user = UserRecord {
        id: Uuid::now_v7(),
        organisation: org,
        username,
        password_hash,
        role,
        created_at: format_time(Utc::now()),
        disabled_at: None,
    };
    state.store.create_user(&user).await?;
    Ok((StatusCode::CREATED, Json(user_dto(user))))
}

/// Users the caller administers.
#[utoipa::path(get, path = "/users", tag = "users", security(("bearer" = [])),
    params(crate::extract::PageQuery),
    responses((status = 200, body = PageDto<UserDto>), (status = 403, body = Problem)))]
pub async fn list_users(
    State(state): State<AppState>,
    p: Principal,
    page: Paging,
) -> Result<Json<PageDto<UserDto>>, ApiError> {
    let scope = policy::members(&p)?;
    let page = state.store.users(&scope, &page.after, page.limit).await?;
    Ok(Json(PageDto::map(page, user_dto)))
}

/// Disable a user the caller administers; its tokens stop working at once.
#[utoipa::path(post, path = "/users/{id}/disable", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = UserDto), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn disable_user(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<UserDto>, ApiError> {
    let uid = member_user(&state, &p, &id).await?;
    state.store.disable_user(uid, Utc::now()).await?;
    reread_user(&state, uid, &id).await
}

/// Enable a disabled user again (administrators of its organisation).
#[utoipa::path(post, path = "/users/{id}/enable", tag = "users", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 200, body = UserDto), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn enable_user(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<UserDto>, ApiError> {
    let uid = member_user(&state, &p, &id).await?;
    state.store.enable_user(uid).await?;
    reread_user(&state, uid, &id).await
}

/// The user `id` if `p` administers its organisation; 404 otherwise, as for no user at all.
async fn member_user(state: &AppState, p: &Principal, id: &str) -> Result<Uuid, ApiError> {
    let scope = policy::members(p)?;
    let not_found = || ApiError::not_found("user", id);
    let uid = Uuid::parse_str(id).map_err(|_| not_found())?;
    let user = state.store.user(uid).await?.ok_or_else(not_found)?;
    if !scope.covers(&user.organisation) {
        return Err(not_found());
    }
    Ok(uid)
}

async fn reread_user(state: &AppState, uid: Uuid, id: &str) -> Result<Json<UserDto>, ApiError> {
    let user = state
        .store
        .user(uid)
        .await?
        .ok_or_else(|| ApiError::not_found("user", id))?;
    Ok(Json(user_dto(user)))
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NewToken {
    pub name: String,
    /// Lifetime in seconds (default 30 days, at most 365 days).
    pub expires_in_seconds: Option<i64>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct TokenDto {
    pub id: Uuid,
    pub name: String,
    pub created_at: String,
    pub expires_at: Option<String>,
    pub revoked_at: Option<String>,
}

/// Create an API token for yourself; the secret is in the answer, once.
#[utoipa::path(post, path = "/tokens", tag = "tokens", security(("bearer" = [])), request_body = NewToken,
    responses((status = 201, body = TokenIssued), (status = 422, body = Problem)))]
pub async fn create_token(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(req): ApiJson<NewToken>,
) -> Result<(StatusCode, Json<TokenIssued>), ApiError> {
    let secs = req.expires_in_seconds.unwrap_or(30 * 86_400);
    if !(1..=MAX_TOKEN_DAYS * 86_400).contains(&secs) {
        return Err(ApiError::field(
            "/expiresInSeconds",
            format!("between 1 and {} (365 days)", MAX_TOKEN_DAYS * 86_400),
        ));
    }
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::field("/name", "1 to 100 characters"));
    }
    let user = state
        .store
        .user(p.user_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("user-disabled", "the user no longer exists"))?;
    let issued = issue_token(
        &state,
        &user,
        name,
        Some(Utc::now() + Duration::seconds(secs)),
    )
    .await?;
    Ok((StatusCode::CREATED, Json(issued)))
}

/// Your tokens (never their secrets).
#[utoipa::path(get, path = "/tokens", tag = "tokens", security(("bearer" = [])),
    params(crate::extract::PageQuery),
    responses((status = 200, body = PageDto<TokenDto>)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    p: Principal,
    page: Paging,
) -> Result<Json<PageDto<TokenDto>>, ApiError> {
    let page = state
        .store
        .tokens_of(p.user_id, &page.after, page.limit)
        .await?;
    Ok(Json(PageDto::map(page, |t| TokenDto {
        id: t.id,
        name: t.name,
        created_at: t.created_at,
        expires_at: t.expires_at,
        revoked_at: t.revoked_at,
    })))
}

/// Revoke one of your tokens; effective at once. Someone else's token reads as absent.
#[utoipa::path(delete, path = "/tokens/{id}", tag = "tokens", security(("bearer" = [])),
    params(("id" = Uuid, Path)),
    responses((status = 204), (status = 404, body = Problem)))]
pub async fn revoke_token(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let tid = Uuid::parse_str(&id).map_err(|_| ApiError::not_found("token", &id))?;
    if state.store.revoke_token(tid, p.user_id, Utc::now()).await? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found("token", &id))
    }
}

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDevice {
    pub id: String,
    /// Defaults to the caller's organisation.
    pub organisation: Option<String>,
    /// sensor, camera, ais_receiver or e_seal.
    pub kind: String,
    pub name: String,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceDto {
    pub id: String,
    pub organisation: String,
    pub kind: String,
    pub name: String,
    pub created_at: String,
    pub disabled_at: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRegistered {
    pub device: DeviceDto,
    /// The device's credential: shown this once, stored only as a hash.
    pub credential: String,
}

fn device_dto(d: DeviceRecord) -> DeviceDto {
    DeviceDto {
        id: d.id.to_string(),
        organisation: d.organisation.to_string(),
        kind: d.kind.as_str().to_string(),
        name: d.name,
        created_at: d.created_at,
        disabled_at: d.disabled_at,
    }
}

/// Register a device with its own credential (administrators of its organisation).
#[utoipa::path(post, path = "/devices", tag = "devices", security(("bearer" = [])), request_body = NewDevice,
    responses((status = 201, body = DeviceRegistered), (status = 403, body = Problem), (status = 409, body = Problem), (status = 422, body = Problem)))]
pub async fn register_device(
    State(state): State<AppState>,
    p: Principal,
    ApiJson(req): ApiJson<NewDevice>,
) -> Result<(StatusCode, Json<DeviceRegistered>), ApiError> {
    let org = match &req.organisation {
        Some(o) => ident("/organisation", o)?,
        None => p.organisation.id.clone(),
    };
    policy::may(&p, Command::Administer { org: &org })?;
    let id = ident("/id", &req.id)?;
    let kind = DeviceKind::parse(&req.kind)
        .ok_or_else(|| ApiError::field("/kind", "one of sensor, camera, ais_receiver, e_seal"))?;
    let name = req.name.trim();
    if name.is_empty() || name.chars().count() > 200 {
        return Err(ApiError::field("/name", "1 to 200 characters"));
    }
    if state.store.organisation(org.as_str()).await?.is_none() {
        return Err(ApiError::field(
            "/organisation",
            format!("there is no organisation {org}"),
        ));
    }
    let now = format_time(Utc::now());
    let d = DeviceRecord {
        id,
        organisation: org,
        kind,
        name: name.to_string(),
        created_at: now.clone(),
        disabled_at: None,
    };
    let (secret, cred) = device_credential(&d.id, now)?;
    state.store.create_device(&d, &cred).await?;
    Ok((
        StatusCode::CREATED,
        Json(DeviceRegistered {
            device: device_dto(d),
            credential: secret,
        }),
    ))
}

/// The device `id` if `p` administers its organisation; 404 otherwise, as for no device.
async fn member_device(
    state: &AppState,
    p: &Principal,
    id: &str,
) -> Result<DeviceRecord, ApiError> {
    let scope = policy::members(p)?;
    let not_found = || ApiError::not_found("device", id);
    let device = state.store.device(id).await?.ok_or_else(not_found)?;
    if !scope.covers(&device.organisation) {
        return Err(not_found());
    }
    Ok(device)
}

/// Issue a device a new credential; every earlier credential of the device stops working at
/// once (administrators of its organisation). The secret is in the answer, once.
#[utoipa::path(post, path = "/devices/{id}/credential", tag = "devices", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 201, body = DeviceRegistered), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn rotate_device_credential(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<(StatusCode, Json<DeviceRegistered>), ApiError> {
    let device = member_device(&state, &p, &id).await?;
    let now = Utc::now();
    let (secret, cred) = device_credential(&device.id, format_time(now))?;
    state
        .store
        .rotate_device_credential(&device.id, &cred, now)
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(DeviceRegistered {
            device: device_dto(device),
            credential: secret,
        }),
    ))
}

/// Disable a device: its credentials stop working at once (administrators of its organisation).
#[utoipa::path(post, path = "/devices/{id}/disable", tag = "devices", security(("bearer" = [])),
    params(("id" = String, Path)),
    responses((status = 200, body = DeviceDto), (status = 403, body = Problem), (status = 404, body = Problem)))]
pub async fn disable_device(
    State(state): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> Result<Json<DeviceDto>, ApiError> {
    let device = member_device(&state, &p, &id).await?;
    state.store.disable_device(&device.id, Utc::now()).await?;
    let device = member_device(&state, &p, &id).await?;
    Ok(Json(device_dto(device)))
}

/// A fresh device credential: the secret to show once and the record to store.
fn device_credential(
    device: &jianghai_core::Ident,
    now: String,
) -> Result<(String, TokenRecord), ApiError> {
    let secret = auth::new_secret(auth::DEVICE_TOKEN_PREFIX)?;
    let cred = TokenRecord {
        id: Uuid::now_v7(),
        secret_hash: auth::secret_hash(&secret),
        owner: TokenOwner::Device(device.clone()),
        name: "device credential".into(),
        created_at: now,
        expires_at: None,
        revoked_at: None,
    };
    Ok((secret, cred))
}

/// Devices the caller administers.
#[utoipa::path(get, path = "/devices", tag = "devices", security(("bearer" = [])),
    params(crate::extract::PageQuery),
    responses((status = 200, body = PageDto<DeviceDto>), (status = 403, body = Problem)))]
pub async fn list_devices(
    State(state): State<AppState>,
    p: Principal,
    page: Paging,
) -> Result<Json<PageDto<DeviceDto>>, ApiError> {
    let scope = policy::members(&p)?;
    let page = state.store.devices(&scope, &page.after, page.limit).await?;
    Ok(Json(PageDto::map(page, device_dto)))
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AuditDto {
    pub id: Uuid,
    pub at: String,
    pub organisation: Option<String>,
    pub principal: Option<String>,
    pub method: String,
    pub route: String,
    pub object: String,
    pub status: i32,
    pub request_id: Option<String>,
}

/// The audit log, oldest first (operator organisation only).
#[utoipa::path(get, path = "/audit", tag = "audit", security(("bearer" = [])),
    params(crate::extract::PageQuery),
    responses((status = 200, body = PageDto<AuditDto>), (status = 403, body = Problem)))]
pub async fn read_audit(
    State(state): State<AppState>,
    p: Principal,
    page: Paging,
    _headers: HeaderMap,
) -> Result<Json<PageDto<AuditDto>>, ApiError> {
    policy::may(&p, Command::ReadAudit)?;
    let page = state.store.audit_log(&page.after, page.limit).await?;
    Ok(Json(PageDto::map(page, |e: AuditEntry| AuditDto {
        id: e.id,
        at: e.at,
        organisation: e.organisation,
        principal: e.principal,
        method: e.method,
        route: e.route,
        object: e.object,
        status: e.status,
        request_id: e.request_id,
    })))
}
