//! Several PostgreSQL hosts in one URL, as libpq writes them (`postgres://user@h1:5432,h2:5433/db`), for a primary
//! with streaming-replication standbys (issue 18). sqlx connects to one host; this module finds the one that takes
//! writes and follows it when a standby is promoted:
//!
//! - [`split`] turns the URL into one URL per host (dropping `target_session_attrs`: a store always needs a
//!   read-write server, so that is what it looks for whatever the URL says).
//! - Every new pool connection checks `pg_is_in_recovery()` and is refused on a standby, so the pool never holds a
//!   connection that cannot write.
//! - [`follow`] checks the pool's server every second; when it fails or is in recovery, it probes each host and
//!   points the pool's new connections at the first one that takes writes. Broken connections to the old primary
//!   fail their next use (the pool tests idle ones before handing them out) and are replaced on the new one.

use std::time::Duration;

use sqlx::Connection as _;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPool};

/// One URL per host of a libpq multi-host URL, in order; a single-host URL comes back as it is (minus
/// `target_session_attrs`).
pub(crate) fn split(url: &str) -> Vec<String> {
    let Some((scheme, rest)) = url.split_once("://") else {
        return vec![url.to_string()];
    };
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, hosts) = match authority.rfind('@') {
        Some(at) => (&authority[..=at], &authority[at + 1..]),
        None => ("", authority),
    };
    let tail = strip_param(tail, "target_session_attrs");
    hosts
        .split(',')
        .filter(|h| !h.is_empty())
        .map(|host| format!("{scheme}://{userinfo}{host}{tail}"))
        .collect()
}

/// `tail` (path and query) without the query parameter `name`.
fn strip_param(tail: &str, name: &str) -> String {
    let Some((path, query)) = tail.split_once('?') else {
        return tail.to_string();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| pair.split('=').next() != Some(name) && !pair.is_empty())
        .collect();
    if kept.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{}", kept.join("&"))
    }
}

/// Whether the server behind `conn` takes writes (not a standby in recovery).
pub(crate) async fn writable(conn: &mut PgConnection) -> Result<bool, sqlx::Error> {
    let in_recovery: bool = sqlx::query_scalar("SELECT pg_is_in_recovery()")
        .fetch_one(conn)
        .await?;
    Ok(!in_recovery)
}

/// The first host that answers and takes writes, by its position.
pub(crate) async fn find_primary(hosts: &[PgConnectOptions]) -> Option<usize> {
    for (i, options) in hosts.iter().enumerate() {
        let probe = async {
            let mut conn = PgConnection::connect_with(options).await?;
            let ok = writable(&mut conn).await;
            let _ = conn.close().await;
            ok
        };
        if let Ok(Ok(true)) = tokio::time::timeout(Duration::from_secs(3), probe).await {
            return Some(i);
        }
    }
    None
}

/// Follows the primary among `hosts` for the life of `pool`: checks every second, and on failure points the pool at
/// the host that takes writes now.
pub(crate) async fn follow(pool: PgPool, hosts: Vec<PgConnectOptions>, mut current: usize) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        if pool.is_closed() {
            return;
        }
        let healthy = tokio::time::timeout(Duration::from_secs(3), async {
            let mut conn = pool.acquire().await?;
            writable(&mut conn).await
        })
        .await;
        if let Ok(Ok(true)) = healthy {
            continue;
        }
        if let Some(found) = find_primary(&hosts).await
            && found != current
        {
            tracing::warn!(
                from = current,
                to = found,
                "postgres: the primary moved; new connections go to the new one"
            );
            pool.set_connect_options(hosts[found].clone());
            current = found;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::split;

    #[test]
    fn a_multi_host_url_is_one_url_per_host() {
        assert_eq!(
            split(
                "postgres://u:p@a:5432,b:5433/db?target_session_attrs=read-write&sslmode=disable"
            ),
            [
                "postgres://u:p@a:5432/db?sslmode=disable",
                "postgres://u:p@b:5433/db?sslmode=disable"
            ]
        );
        assert_eq!(
            split("postgres://a,b/db?target_session_attrs=read-write"),
            ["postgres://a/db", "postgres://b/db"]
        );
        assert_eq!(split("postgres://u@h:1/db"), ["postgres://u@h:1/db"]);
        assert_eq!(split("postgres://u@h:1"), ["postgres://u@h:1"]);
        assert_eq!(
            split("postgres://u@h/db?options[search_path]=s"),
            ["postgres://u@h/db?options[search_path]=s"]
        );
    }
}
