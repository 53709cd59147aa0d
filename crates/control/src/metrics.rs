//! [`ApiMetrics`]: API requests by route, method and status, with a latency histogram per
//! route, for the media-edge binary's Prometheus exposition. Recorded by the outermost
//! layer, so refusals by the gate (401, 403, 429) count too. Labels are bounded: routes are
//! the API's route templates (an unknown path is `other`), never a session id or address.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use edge_forward::Histogram;

/// Request counts and latencies, shared between the API and whoever reads them. Cheap to
/// clone; one short lock per request.
#[derive(Debug, Clone, Default)]
pub struct ApiMetrics {
    routes: Arc<Mutex<BTreeMap<(&'static str, &'static str), RouteFigures>>>,
}

/// The figures of one route and method.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct RouteFigures {
    /// Answers by status code.
    pub statuses: BTreeMap<u16, u64>,
    /// Time from the request's arrival to its answer's headers.
    pub latency: Histogram,
}

impl ApiMetrics {
    /// Every `(route, method)` seen so far with its figures.
    pub fn snapshot(&self) -> Vec<(&'static str, &'static str, RouteFigures)> {
        self.lock()
            .iter()
            .map(|((route, method), figures)| (*route, *method, figures.clone()))
            .collect()
    }

    fn record(&self, route: &'static str, method: &'static str, status: u16, started: Instant) {
        let mut routes = self.lock();
        let figures = routes.entry((route, method)).or_default();
        *figures.statuses.entry(status).or_default() += 1;
        figures.latency.observe(started.elapsed());
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, BTreeMap<(&'static str, &'static str), RouteFigures>> {
        // Every update is one call: the map stays consistent across a panic elsewhere.
        self.routes.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The route template `path` falls under (the router's table), or `other`.
fn route_of(path: &str) -> &'static str {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segments.as_slice() {
        ["v1", "sessions"] => "/v1/sessions",
        ["v1", "sessions", _] => "/v1/sessions/{id}",
        ["v1", "sessions", _, "answer"] => "/v1/sessions/{id}/answer",
        ["v1", "bans"] => "/v1/bans",
        ["v1", "bans", _] => "/v1/bans/{address}",
        ["v1", "stats"] => "/v1/stats",
        _ => "other",
    }
}

/// The method as a bounded label.
fn method_of(method: &axum::http::Method) -> &'static str {
    use axum::http::Method as M;
    match *method {
        M::GET => "GET",
        M::POST => "POST",
        M::DELETE => "DELETE",
        M::OPTIONS => "OPTIONS",
        M::HEAD => "HEAD",
        M::PUT => "PUT",
        M::PATCH => "PATCH",
        _ => "other",
    }
}

/// The layer: times and counts every request.
pub(crate) async fn record(
    State(metrics): State<ApiMetrics>,
    request: Request,
    next: Next,
) -> Response {
    let started = Instant::now();
    let route = route_of(request.uri().path());
    let method = method_of(request.method());
    let response = next.run(request).await;
    metrics.record(route, method, response.status().as_u16(), started);
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_map_to_their_templates_only() {
        assert_eq!(route_of("/v1/sessions"), "/v1/sessions");
        assert_eq!(route_of("/v1/sessions/00ab"), "/v1/sessions/{id}");
        assert_eq!(
            route_of("/v1/sessions/00ab/answer"),
            "/v1/sessions/{id}/answer"
        );
        assert_eq!(route_of("/v1/bans/192.0.2.1"), "/v1/bans/{address}");
        assert_eq!(route_of("/v1/stats"), "/v1/stats");
        assert_eq!(route_of("/v1/sessions/1/2/3"), "other");
        assert_eq!(route_of("/"), "other");
    }
}
