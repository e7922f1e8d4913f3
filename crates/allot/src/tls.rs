//! Outgoing HTTPS. rustls needs a process-wide crypto provider chosen once;
//! allot uses ring (it builds with a plain C compiler, unlike aws-lc).

/// Installs the provider; later calls are no-ops.
pub fn install() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The HTTP client for task kinds and benchmarks, with a redirect policy.
pub fn http_client(redirects: reqwest::redirect::Policy) -> reqwest::Client {
    install();
    reqwest::Client::builder()
        .user_agent(concat!("allot/", env!("CARGO_PKG_VERSION")))
        .redirect(redirects)
        .build()
        .unwrap_or_else(|e| {
            // Only a broken TLS setup gets here; fail loudly at start, not per run.
            panic!("cannot build the HTTP client: {e}")
        })
}
