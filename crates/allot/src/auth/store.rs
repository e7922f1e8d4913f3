//! Persistence of API tokens.

use jiff::Timestamp;
use uuid::Uuid;

use crate::store::{Db, DbId, DbStrings, DbTime};
use crate::with_pool;

/// A stored token (never the secret itself).
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TokenRecord {
    pub id: DbId,
    pub name: String,
    pub scopes: DbStrings,
    pub created_at: DbTime,
}

#[derive(Debug, Clone)]
pub struct TokenStore {
    db: Db,
}

impl TokenStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Stores a token with the given secret hash.
    pub async fn insert(
        &self,
        name: &str,
        secret_hash: &str,
        scopes: &[String],
        now: Timestamp,
    ) -> Result<TokenRecord, sqlx::Error> {
        let record = TokenRecord {
            id: DbId(Uuid::now_v7()),
            name: name.to_string(),
            scopes: DbStrings(scopes.to_vec()),
            created_at: DbTime(now),
        };
        with_pool!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO api_tokens (id, name, token_hash, scopes, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(record.id)
            .bind(&record.name)
            .bind(secret_hash)
            .bind(&record.scopes)
            .bind(record.created_at)
            .execute(pool)
            .await?;
        });
        Ok(record)
    }

    /// Ensures a token with this exact secret exists (idempotent), with every scope.
    pub async fn ensure(
        &self,
        name: &str,
        secret_hash: &str,
        now: Timestamp,
    ) -> Result<(), sqlx::Error> {
        if self.find_by_hash(secret_hash).await?.is_none() {
            self.insert(name, secret_hash, &["*".to_string()], now)
                .await?;
        }
        Ok(())
    }

    pub async fn find_by_hash(
        &self,
        secret_hash: &str,
    ) -> Result<Option<TokenRecord>, sqlx::Error> {
        with_pool!(&self.db, pool => {
            sqlx::query_as::<_, TokenRecord>(
                "SELECT id, name, scopes, created_at FROM api_tokens \
                 WHERE token_hash = $1 AND revoked_at IS NULL",
            )
            .bind(secret_hash)
            .fetch_optional(pool)
            .await
        })
    }

    pub async fn count(&self) -> Result<i64, sqlx::Error> {
        with_pool!(&self.db, pool => {
            sqlx::query_scalar::<_, i64>("SELECT count(*) FROM api_tokens WHERE revoked_at IS NULL")
                .fetch_one(pool)
                .await
        })
    }
}
