//! Who may talk to the server: the `Host` must be one of this server's names (no DNS rebinding),
//! an `Origin`, when sent, must be this server's own (no other web page can drive it), and with a
//! token every request must carry it (header, cookie or `?token=`).

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::ServeOptions;
use crate::routes::AppState;

/// The cookie the page keeps the token in.
pub const TOKEN_COOKIE: &str = "prism_token";

/// The allowed `Host` values and the token.
#[derive(Debug)]
pub struct Policy {
    hosts: Vec<String>,
    token: Option<String>,
}

impl Policy {
    pub fn new(options: &ServeOptions, local: SocketAddr) -> Policy {
        let port = local.port();
        let mut hosts = vec![
            format!("127.0.0.1:{port}"),
            format!("localhost:{port}"),
            format!("[::1]:{port}"),
        ];
        hosts.push(match local {
            SocketAddr::V4(a) => format!("{}:{port}", a.ip()),
            SocketAddr::V6(a) => format!("[{}]:{port}", a.ip()),
        });
        hosts.extend(options.hosts.iter().map(|h| format!("{h}:{port}")));
        if port == 80 {
            let bare: Vec<String> = hosts
                .iter()
                .filter_map(|h| h.strip_suffix(":80").map(str::to_string))
                .collect();
            hosts.extend(bare);
        }
        Policy {
            hosts,
            token: options.token.clone(),
        }
    }

    /// Why a request is refused, if it is.
    pub fn refuse(&self, headers: &HeaderMap, query: Option<&str>) -> Option<(StatusCode, String)> {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(str::to_ascii_lowercase);
        let Some(host) = host.filter(|h| self.hosts.contains(h)) else {
            return Some((
                StatusCode::FORBIDDEN,
                "this server answers only to its own address (Host header refused)".into(),
            ));
        };
        if let Some(origin) = headers.get(header::ORIGIN) {
            let ok = origin
                .to_str()
                .is_ok_and(|o| o.eq_ignore_ascii_case(&format!("http://{host}")));
            if !ok {
                return Some((
                    StatusCode::FORBIDDEN,
                    "requests from other origins are refused".into(),
                ));
            }
        }
        if headers
            .get("sec-fetch-site")
            .is_some_and(|v| v.as_bytes() == b"cross-site")
        {
            return Some((
                StatusCode::FORBIDDEN,
                "cross-site requests are refused".into(),
            ));
        }
        if let Some(token) = &self.token
            && !presented(headers, query).any(|t| same(t.as_bytes(), token.as_bytes()))
        {
            return Some((
                StatusCode::UNAUTHORIZED,
                "a token is required: open the address `prism serve` printed (with ?token=)".into(),
            ));
        }
        None
    }
}

/// Tokens a request carries: `Authorization: Bearer`, the cookie, `?token=`.
fn presented<'a>(headers: &'a HeaderMap, query: Option<&'a str>) -> impl Iterator<Item = &'a str> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let cookies = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().strip_prefix(TOKEN_COOKIE)?.strip_prefix('='));
    let query = query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter_map(|p| p.strip_prefix("token="));
    bearer.into_iter().chain(cookies).chain(query)
}

/// Constant-time comparison.
fn same(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The middleware: refuses what [`Policy::refuse`] refuses; adds the page's safety headers; a
/// page load with a valid `?token=` keeps it in a same-site cookie.
pub async fn guard(State(state): State<Arc<AppState>>, request: Request, next: Next) -> Response {
    let query = request.uri().query().map(str::to_string);
    if let Some((status, message)) = state.policy.refuse(request.headers(), query.as_deref()) {
        tracing::warn!(
            host = ?request.headers().get(header::HOST),
            origin = ?request.headers().get(header::ORIGIN),
            path = %request.uri().path(),
            "refused: {message}"
        );
        return (status, message).into_response();
    }
    let set_cookie = state
        .policy
        .token
        .as_ref()
        .filter(|_| query.as_deref().is_some_and(|q| q.contains("token=")))
        .map(|t| format!("{TOKEN_COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict"));
    let mut response = next.run(request).await;
    let h = response.headers_mut();
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' blob: data:; style-src 'self'; script-src 'self'; connect-src 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    if let Some(c) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        h.insert(header::SET_COOKIE, c);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(token: Option<&str>) -> Policy {
        let mut o = ServeOptions::new("/nonexistent".into());
        o.token = token.map(str::to_string);
        Policy::new(&o, "127.0.0.1:8080".parse().unwrap())
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    #[test]
    fn host_origin_and_token() {
        let p = policy(None);
        assert!(
            p.refuse(&headers(&[("host", "127.0.0.1:8080")]), None)
                .is_none()
        );
        assert!(
            p.refuse(&headers(&[("host", "localhost:8080")]), None)
                .is_none()
        );
        assert!(
            p.refuse(&headers(&[("host", "evil.com:8080")]), None)
                .is_some()
        );
        assert!(
            p.refuse(&headers(&[("host", "127.0.0.1:8081")]), None)
                .is_some()
        );
        assert!(p.refuse(&HeaderMap::new(), None).is_some());
        let same = [
            ("host", "localhost:8080"),
            ("origin", "http://localhost:8080"),
        ];
        assert!(p.refuse(&headers(&same), None).is_none());
        let other = [("host", "localhost:8080"), ("origin", "http://evil.com")];
        assert_eq!(
            p.refuse(&headers(&other), None).unwrap().0,
            StatusCode::FORBIDDEN
        );
        let null = [("host", "localhost:8080"), ("origin", "null")];
        assert!(p.refuse(&headers(&null), None).is_some());

        let t = policy(Some("0123456789abcdef"));
        let host = [("host", "127.0.0.1:8080")];
        assert_eq!(
            t.refuse(&headers(&host), None).unwrap().0,
            StatusCode::UNAUTHORIZED
        );
        assert!(
            t.refuse(&headers(&host), Some("token=0123456789abcdef"))
                .is_none()
        );
        assert!(
            t.refuse(&headers(&host), Some("token=0123456789abcdeX"))
                .is_some()
        );
        let bearer = [
            ("host", "127.0.0.1:8080"),
            ("authorization", "Bearer 0123456789abcdef"),
        ];
        assert!(t.refuse(&headers(&bearer), None).is_none());
        let cookie = [
            ("host", "127.0.0.1:8080"),
            ("cookie", "a=b; prism_token=0123456789abcdef"),
        ];
        assert!(t.refuse(&headers(&cookie), None).is_none());
    }
}
