//! A PostgreSQL schema of its own per test (`<prefix>_<pid>_<random>`, dropped at the end),
//! so that parallel test processes and reruns never see each other's rows; shared by the
//! conformance suite, the in-process worker tests and the worker process tests.
//!
//! When `FLOWGEN_TEST_POSTGRES_URL` is set, a test that cannot connect fails: it never
//! passes silently. When it is not set, the test says so on stderr and passes, except under
//! `CI=true`, where it fails (CI always sets the variable, see `.ci/run`).

#![allow(dead_code)]

use std::str::FromStr;
use std::sync::Arc;

use flowgen_runtime::state::PostgresStore;
use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};

/// The variable naming the PostgreSQL server of the tests.
pub const PG_URL_VAR: &str = "FLOWGEN_TEST_POSTGRES_URL";

/// The server's URL, or `None` after printing that `what` is skipped (never under `CI=true`).
/// The `.ci` checks look for the printed "… not set" to make sure nothing was skipped.
pub fn postgres_url(what: &str) -> Option<String> {
    match std::env::var(PG_URL_VAR) {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            eprintln!("{PG_URL_VAR} not set: {what} skipped");
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{PG_URL_VAR} must be set under CI (.ci/run sets it to the local server)"
            );
            None
        }
    }
}

/// A PostgreSQL schema of its own, dropped on drop.
#[derive(Debug)]
pub struct PgSchema {
    url: String,
    pub name: String,
}

impl PgSchema {
    /// Creates `<prefix>_<pid>_<random>` on the server at `url`.
    pub async fn create(url: &str, prefix: &str) -> PgSchema {
        let name = format!(
            "{prefix}_{}_{:08x}",
            std::process::id(),
            rand::random::<u32>()
        );
        let mut conn = PgConnection::connect(url)
            .await
            .unwrap_or_else(|e| panic!("{PG_URL_VAR} is set but PostgreSQL is unreachable: {e}"));
        sqlx::query(&format!("CREATE SCHEMA {name}"))
            .execute(&mut conn)
            .await
            .expect("create schema");
        conn.close().await.expect("close");
        PgSchema {
            url: url.to_string(),
            name,
        }
    }

    /// The URL a `flowgen` process gets: the server's, with this schema as the search path.
    pub fn state_url(&self) -> String {
        let separator = if self.url.contains('?') { '&' } else { '?' };
        format!(
            "{}{separator}options=-csearch_path%3D{}",
            self.url, self.name
        )
    }

    /// A store with a connection pool of its own, as a separate worker would have.
    pub async fn store(&self) -> Arc<PostgresStore> {
        let options = PgConnectOptions::from_str(&self.url)
            .expect("postgres url")
            .options([("search_path", self.name.as_str())]);
        Arc::new(
            PostgresStore::connect_with(options)
                .await
                .expect("postgres store"),
        )
    }
}

impl Drop for PgSchema {
    fn drop(&mut self) {
        let (url, name) = (self.url.clone(), self.name.clone());
        // Dropped inside a test's runtime: a runtime of its own on a thread of its own.
        let done = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let mut conn = PgConnection::connect(&url).await?;
                sqlx::query(&format!("DROP SCHEMA IF EXISTS {name} CASCADE"))
                    .execute(&mut conn)
                    .await?;
                conn.close().await
            })
        })
        .join();
        if !matches!(done, Ok(Ok(()))) {
            eprintln!("could not drop test schema {}: {done:?}", self.name);
        }
    }
}
