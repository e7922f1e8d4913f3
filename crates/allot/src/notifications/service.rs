//! `GET /v1/notifications` as an operation: its parameters checked, the
//! modules the caller may read, the long poll, the page.

use std::time::Duration;

use super::model::{NotificationPage, NotificationQuery};
use super::{Cursor, Filter, Hub, MODULES, long_poll, read_scope, readable};
use crate::http::auth::{Caller, Scope};
use crate::http::paging::{bad_cursor, page_limit, parse_id};
use crate::http::problem::Problem;
use crate::store::Db;

/// The longest `wait` accepted.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// 403 for a caller who may read no module's notifications.
pub fn forbidden_to_all(caller: &Caller) -> Problem {
    let scopes: Vec<&str> = MODULES.iter().map(|(_, s)| *s).collect();
    Problem::forbidden(format!(
        "token {:?} may read no notifications: that takes one of the scopes {} \
         (it has: {})",
        caller.token_name,
        scopes.join(", "),
        caller.scopes.join(", ")
    ))
    .with("required_scopes", scopes)
}

/// One page of the feed for `caller`: the notifications of every module
/// it may read (or of the one `module=` names, which it must be allowed
/// to read), narrowed by `calendar_id` and `exam_id`.
pub async fn read(
    db: &Db,
    hub: &Hub,
    caller: &Caller,
    q: &NotificationQuery,
) -> Result<NotificationPage, Problem> {
    let allowed = readable(&caller.scopes);
    if allowed.is_empty() {
        return Err(forbidden_to_all(caller));
    }
    let limit = page_limit(q.limit)?;
    let from = match &q.after {
        None => Cursor::START,
        Some(c) => Cursor::parse(c).ok_or_else(|| bad_cursor(c))?,
    };
    let wait = match q.wait.as_deref() {
        None => Duration::ZERO,
        Some(w) => {
            let d = allot_kernel::duration::parse_duration(w)
                .map_err(|e| Problem::invalid_query(format!("wait={w:?}: {e}")))?;
            if d > MAX_WAIT {
                return Err(Problem::invalid_query("wait may be at most 60s"));
            }
            d
        }
    };
    let modules: Vec<&str> = match q.module.as_deref() {
        None => allowed,
        Some(m) => {
            let Some(scope) = read_scope(m) else {
                let known: Vec<&str> = MODULES.iter().map(|(m, _)| *m).collect();
                return Err(Problem::invalid_query(format!(
                    "module={m:?}: expected one of {}",
                    known.join(", ")
                )));
            };
            caller.require(scope)?;
            vec![m]
        }
    };
    // A filter on another module's ids asks for that module's rows: a
    // caller who cannot read them is told so rather than left waiting on
    // a feed that will never show one.
    let calendar_id = match q.calendar_id.as_deref() {
        None => None,
        Some(c) => {
            caller.require(crate::calendar::api::Read::NAME)?;
            Some(parse_id(c, "calendar")?)
        }
    };
    let exam_id = match q.exam_id.as_deref() {
        None => None,
        Some(e) => {
            caller.require(crate::provisioning::api::Read::NAME)?;
            Some(parse_id(e, "exam")?)
        }
    };
    let filter = Filter {
        modules: &modules,
        calendar_id,
        exam_id,
    };
    let rows = long_poll(db, hub, from, &filter, limit, wait).await?;
    let next_cursor = rows
        .last()
        .map(|r| r.cursor().to_string())
        .or_else(|| q.after.clone());
    Ok(NotificationPage {
        items: rows.into_iter().map(|r| r.to_api()).collect(),
        next_cursor,
    })
}
