//! The listeners: one per API on loopback, each serving its connections itself so that a
//! fault can close one without answering, and so that .NET-style APIs can match paths
//! case-insensitively as their real counterparts do.

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{Request, Uri};
use hyper::body::Incoming;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use tokio::task::{JoinHandle, JoinSet};
use tower::ServiceExt;

use crate::SandboxError;
use crate::config::Api;
use crate::faults::{ConnDrop, guard};
use crate::state::{ApiCtx, Shared};
use crate::{chargebee, control, poweroffice, rest, webcrm};

/// How long open connections get to finish when the sandbox shuts down.
const DRAIN: Duration = Duration::from_secs(5);

pub(crate) async fn bind(api: Api, port: u16) -> Result<TcpListener, SandboxError> {
    let port = if port == 0 {
        0
    } else {
        port + u16::try_from(api.index()).unwrap_or(0)
    };
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    TcpListener::bind(addr)
        .await
        .map_err(|source| SandboxError::Bind {
            addr: addr.to_string(),
            source,
        })
}

/// The routes of one API behind the guard, plus the unguarded `/__sandbox` routes.
pub(crate) fn router(api: Api, shared: Arc<Shared>) -> Router {
    let ctx = ApiCtx {
        shared: shared.clone(),
        api,
    };
    let routes: Router<ApiCtx> = match api {
        Api::Chargebee => chargebee::routes(ctx.clone()),
        Api::PowerOffice => poweroffice::routes(ctx.clone()),
        Api::Webcrm => webcrm::routes(ctx.clone()),
        Api::Rest => rest::routes(ctx.clone()),
    };
    let guarded = routes
        .layer(axum::middleware::from_fn_with_state(ctx.clone(), guard))
        .with_state(ctx);
    guarded.merge(control::routes(shared))
}

/// Path segments the .NET APIs match in any case, in their canonical spelling.
fn canonical_segments(api: Api) -> &'static [&'static str] {
    match api {
        Api::PowerOffice => &[
            "OAuth",
            "Token",
            "v2",
            "Customers",
            "ContactPersons",
            "Employees",
            "Departments",
            "Products",
            "SalesOrders",
            "Lines",
            "Complete",
        ],
        Api::Webcrm => &[
            "Auth",
            "ApiLogin",
            "ApiRefresh",
            "Persons",
            "Organisations",
            "Opportunities",
            "QuotationLines",
            "Users",
            "Products",
            "Queries",
        ],
        Api::Chargebee | Api::Rest => &[],
    }
}

/// Rewrites a path to the canonical spelling of its known segments; PowerOffice Go's
/// `/Demo` prefix (its demo environment) is accepted and dropped.
pub(crate) fn canonical_path(api: Api, path: &str) -> Option<String> {
    let known = canonical_segments(api);
    if known.is_empty() || path.starts_with("/__sandbox") {
        return None;
    }
    let mut segments: Vec<&str> = path.split('/').collect();
    if api == Api::PowerOffice
        && segments
            .get(1)
            .is_some_and(|s| s.eq_ignore_ascii_case("demo"))
    {
        segments.remove(1);
    }
    let rewritten: Vec<&str> = segments
        .into_iter()
        .map(|seg| {
            known
                .iter()
                .copied()
                .find(|k| k.eq_ignore_ascii_case(seg))
                .unwrap_or(seg)
        })
        .collect();
    let out = rewritten.join("/");
    (out != path).then_some(out)
}

fn rewrite_uri(api: Api, uri: &Uri) -> Option<Uri> {
    let path = canonical_path(api, uri.path())?;
    let pq = match uri.query() {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    pq.parse().ok()
}

/// Accepts connections until `shutdown` turns true, then lets open ones finish (bounded).
pub(crate) fn spawn(
    api: Api,
    listener: TcpListener,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) -> JoinHandle<()> {
    tokio::spawn(async move {
        let mut connections = JoinSet::new();
        loop {
            tokio::select! {
                accepted = listener.accept() => match accepted {
                    Ok((stream, _)) => {
                        connections.spawn(serve_connection(api, stream, router.clone(), shutdown.clone()));
                    }
                    Err(e) => {
                        tracing::warn!(api = api.name(), error = %e, "sandbox accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                },
                _ = shutdown.changed() => break,
                Some(_) = connections.join_next(), if !connections.is_empty() => {}
            }
        }
        drop(listener);
        let drained = tokio::time::timeout(DRAIN, async {
            while connections.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            connections.abort_all();
        }
    })
}

async fn serve_connection(
    api: Api,
    stream: tokio::net::TcpStream,
    router: Router,
    mut shutdown: watch::Receiver<bool>,
) {
    let _ = stream.set_nodelay(true);
    let dropper = Arc::new(Notify::new());
    let service = hyper::service::service_fn({
        let dropper = dropper.clone();
        move |mut request: Request<Incoming>| {
            request.extensions_mut().insert(ConnDrop(dropper.clone()));
            if let Some(uri) = rewrite_uri(api, request.uri()) {
                *request.uri_mut() = uri;
            }
            router.clone().oneshot(request.map(Body::new))
        }
    });
    let connection = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        // Idle keep-alive connections stay open (a client's pool must not race a server
        // timeout in tests); shutdown closes them.
        .header_read_timeout(None)
        .serve_connection(TokioIo::new(stream), service);
    let mut connection = std::pin::pin!(connection);
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(e) = result {
                tracing::debug!(api = api.name(), error = %e, "sandbox connection ended with an error");
            }
        }
        // Dropping the connection closes the socket with no answer sent.
        _ = dropper.notified() => {}
        _ = shutdown.changed() => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(DRAIN, connection.as_mut()).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dotnet_paths_match_in_any_case() {
        assert_eq!(
            canonical_path(Api::PowerOffice, "/v2/customers/5").as_deref(),
            Some("/v2/Customers/5")
        );
        assert_eq!(
            canonical_path(Api::PowerOffice, "/Demo/OAuth/Token").as_deref(),
            Some("/OAuth/Token")
        );
        assert_eq!(canonical_path(Api::PowerOffice, "/v2/Customers"), None);
        assert_eq!(
            canonical_path(Api::Webcrm, "/persons").as_deref(),
            Some("/Persons")
        );
        assert_eq!(canonical_path(Api::Chargebee, "/API/v2/customers"), None);
        assert_eq!(canonical_path(Api::Webcrm, "/__sandbox/stats"), None);
    }
}
