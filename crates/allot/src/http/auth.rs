//! Bearer-token authentication and per-token rate limiting for `/v1`.
//!
//! Token lookups are cached for a few seconds so that a busy client costs
//! one hash and one map lookup per request rather than a database query.

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{FromRequestParts, Request, State};
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use governor::clock::{Clock as _, DefaultClock};
use governor::{Quota, RateLimiter};

use super::problem::Problem;
use crate::auth::{TokenStore, allows, hash_secret};

/// Who made the request: set by [`authenticate`] for every `/v1` route.
#[derive(Debug, Clone)]
pub struct Caller {
    pub token_id: uuid::Uuid,
    pub token_name: String,
    pub scopes: Arc<Vec<String>>,
}

impl Caller {
    /// 403 unless the token carries `scope` (or one that implies it).
    pub fn require(&self, scope: &str) -> Result<(), Problem> {
        if allows(&self.scopes, scope) {
            Ok(())
        } else {
            Err(Problem::forbidden(format!(
                "token {:?} lacks the scope {scope:?} (it has: {})",
                self.token_name,
                self.scopes.join(", ")
            ))
            .with("required_scope", scope))
        }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Caller>()
            .cloned()
            .ok_or_else(|| Problem::unauthorized("missing bearer token"))
    }
}

/// A scope a route requires, as a type, so the check runs as an extractor:
/// before the body is read, a token without the scope gets its 403 whatever
/// the body holds.
pub trait Scope: Send + Sync + 'static {
    const NAME: &'static str;
}

/// The caller, known to hold scope `S`.
pub struct Authorized<S: Scope>(pub Caller, std::marker::PhantomData<S>);

impl<S: Scope, St: Send + Sync> FromRequestParts<St> for Authorized<S> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &St) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        caller.require(S::NAME)?;
        Ok(Authorized(caller, std::marker::PhantomData))
    }
}

type KeyedLimiter = RateLimiter<
    uuid::Uuid,
    governor::state::keyed::DefaultKeyedStateStore<uuid::Uuid>,
    DefaultClock,
>;

/// Shared authentication state.
pub struct Gate {
    tokens: TokenStore,
    cache: Mutex<HashMap<String, (Instant, Option<Caller>)>>,
    limiter: Option<KeyedLimiter>,
}

const CACHE_TTL: Duration = Duration::from_secs(5);

impl Gate {
    /// `per_second` = 0 turns rate limiting off.
    pub fn new(tokens: TokenStore, per_second: u32, burst: u32) -> Self {
        let limiter = NonZeroU32::new(per_second).map(|rate| {
            let burst = NonZeroU32::new(burst.max(1)).unwrap_or(rate);
            RateLimiter::keyed(Quota::per_second(rate).allow_burst(burst))
        });
        Self {
            tokens,
            cache: Mutex::new(HashMap::new()),
            limiter,
        }
    }

    async fn lookup(&self, secret: &str) -> Result<Option<Caller>, Problem> {
        let hash = hash_secret(secret);
        if let Some((at, caller)) = self.cache_lock().get(&hash)
            && at.elapsed() < CACHE_TTL
        {
            return Ok(caller.clone());
        }
        let caller = self.tokens.find_by_hash(&hash).await?.map(|t| Caller {
            token_id: t.id.0,
            token_name: t.name,
            scopes: Arc::new(t.scopes.0),
        });
        let mut cache = self.cache_lock();
        if cache.len() > 10_000 {
            // Bounded memory under a flood of random tokens.
            cache.clear();
        }
        cache.insert(hash, (Instant::now(), caller.clone()));
        Ok(caller)
    }

    fn cache_lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (Instant, Option<Caller>)>> {
        self.cache.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn check_rate(&self, caller: &Caller) -> Result<(), Problem> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(&caller.token_id).map_err(|not_until| {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            Problem::too_many_requests(wait.as_secs_f64().ceil().max(1.0) as u64)
        })
    }
}

/// Middleware: 401 without a valid bearer token, 429 over the token's rate.
pub async fn authenticate(State(gate): State<Arc<Gate>>, mut req: Request, next: Next) -> Response {
    let secret = match bearer(&req) {
        Ok(s) => s.to_string(),
        Err(p) => return p.into_response(),
    };
    let caller = match gate.lookup(&secret).await {
        Ok(Some(c)) => c,
        Ok(None) => return Problem::unauthorized("the bearer token is not valid").into_response(),
        Err(p) => return p.into_response(),
    };
    if let Err(p) = gate.check_rate(&caller) {
        return p.into_response();
    }
    req.extensions_mut().insert(caller);
    next.run(req).await
}

fn bearer(req: &Request) -> Result<&str, Problem> {
    let header = req
        .headers()
        .get(AUTHORIZATION)
        .ok_or_else(|| Problem::unauthorized("missing `Authorization: Bearer <token>` header"))?;
    let value = header
        .to_str()
        .map_err(|_| Problem::unauthorized("the Authorization header is not valid text"))?;
    let (scheme, token) = value
        .split_once(' ')
        .ok_or_else(|| Problem::unauthorized("expected `Authorization: Bearer <token>`"))?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(Problem::unauthorized(
            "expected `Authorization: Bearer <token>`",
        ));
    }
    Ok(token.trim())
}
