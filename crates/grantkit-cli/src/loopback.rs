//! The RFC 8252 loopback redirect listener: `http://127.0.0.1:<port>/callback`.
//!
//! It binds 127.0.0.1 only and accepts exactly one valid callback: a `GET /callback` whose
//! `state` is the one this login sent. Anything else — another path, a query that is not an
//! authorization response, a wrong or missing `state` (a stale tab, or a request forged by a
//! web page) — gets a 400 page and is reported on stderr, and the listener keeps waiting for
//! the real callback until the timeout: such a request can neither end the login nor abort it.
//! A callback with the right `state` ends the wait, with a code or with the provider's error
//! (`error=access_denied`...). With a code, the browser's request is held until the caller
//! reports how the code exchange ended ([`Answer::send`]), so the page tells the truth: a
//! wrong secret or method shows "Login failed", never "Logged in".

use std::net::{Ipv4Addr, SocketAddr};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use grantkit::{AuthorizationCode, Callback, PendingAuthorization};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use crate::error::{CliError, CliResult, Exit};

/// A bound loopback listener, not yet serving.
#[derive(Debug)]
pub struct Loopback {
    listener: TcpListener,
    port: u16,
}

/// How long the browser's request is held for the exchange's outcome at most.
const ANSWER_WAIT: Duration = Duration::from_secs(120);

/// The browser's held request: answer it with the outcome of the code exchange.
#[derive(Debug)]
pub struct Answer {
    reply: oneshot::Sender<Result<(), String>>,
    stop: oneshot::Sender<()>,
    server: tokio::task::JoinHandle<()>,
}

impl Answer {
    /// Shows the browser the outcome (`Err`: what failed, already made safe to show), then
    /// stops the listener once the page is out.
    pub async fn send(self, outcome: Result<(), String>) {
        let _ = self.reply.send(outcome);
        let _ = self.stop.send(());
        let _ = tokio::time::timeout(Duration::from_secs(2), self.server).await;
    }
}

/// How the wait ended without a code.
#[derive(Debug)]
pub enum WaitError {
    /// No valid callback within the timeout.
    Timeout(Duration),
    /// The callback carried the right state but failed the remaining checks, or carried the
    /// provider's error.
    Callback(grantkit::Error),
}

impl Loopback {
    /// Binds `127.0.0.1:port` (`0`: a free port).
    pub async fn bind(port: u16) -> CliResult<Self> {
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let listener = TcpListener::bind(addr).await.map_err(|e| {
            if e.kind() == std::io::ErrorKind::AddrInUse {
                CliError::usage(format!(
                    "port {port} on 127.0.0.1 is in use: stop what listens there, or pick another \
                     port with --redirect-port (or leave it out to use a free one) if the provider allows it"
                ))
            } else {
                CliError::new(
                    Exit::Usage,
                    format!("cannot listen on 127.0.0.1:{port}: {e}; pick another --redirect-port"),
                )
            }
        })?;
        let port = listener
            .local_addr()
            .map_err(|e| CliError::failure(format!("the loopback listener has no address: {e}")))?
            .port();
        Ok(Self { listener, port })
    }

    /// `http://127.0.0.1:<port>/callback`.
    pub fn redirect_uri(&self) -> String {
        format!("http://127.0.0.1:{}/callback", self.port)
    }

    /// Serves until one callback carries this login's `state`, or `timeout` passes.
    /// `rejected` is told about every request that was refused while waiting.
    pub async fn wait(
        self,
        pending: &PendingAuthorization,
        timeout: Duration,
        mut rejected: impl FnMut(&str),
    ) -> Result<(AuthorizationCode, Answer), WaitError> {
        let (done_tx, done_rx) = oneshot::channel();
        let (note_tx, mut note_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            pending: pending.clone(),
            done: Mutex::new(Some(done_tx)),
            notes: note_tx,
        });
        let app = Router::new()
            .route("/callback", get(callback))
            .fallback(other)
            .with_state(shared);
        let (stop, stop_rx) = oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            let _ = axum::serve(self.listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop_rx.await;
                })
                .await;
        });

        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        tokio::pin!(done_rx);
        let outcome = loop {
            tokio::select! {
                outcome = &mut done_rx => break outcome.map_err(|_| WaitError::Timeout(timeout)).and_then(|o| o),
                Some(note) = note_rx.recv() => rejected(&note),
                () = &mut deadline => break Err(WaitError::Timeout(timeout)),
            }
        };
        match outcome {
            Ok((code, reply)) => Ok((
                code,
                Answer {
                    reply,
                    stop,
                    server,
                },
            )),
            Err(e) => {
                // Let the page reach the browser before the process moves on (or exits).
                let _ = stop.send(());
                let _ = tokio::time::timeout(Duration::from_secs(2), server).await;
                Err(e)
            }
        }
    }
}

type Delivered = (AuthorizationCode, oneshot::Sender<Result<(), String>>);

struct Shared {
    pending: PendingAuthorization,
    done: Mutex<Option<oneshot::Sender<Result<Delivered, WaitError>>>>,
    notes: mpsc::UnboundedSender<String>,
}

async fn callback(State(shared): State<Arc<Shared>>, RawQuery(query): RawQuery) -> Response {
    let refuse = |note: String, page: &str| {
        let _ = shared.notes.send(note);
        page_response(StatusCode::BAD_REQUEST, "Not this login", page)
    };
    let callback =
        match Callback::parse(query.as_deref().unwrap_or("")) {
            Ok(callback) => callback,
            Err(e) => return refuse(
                format!(
                "ignored a request to /callback that is not a login callback ({e}); still waiting"
            ),
                "This is not an authorization response. grantkit is still waiting for the login.",
            ),
        };
    // Only a callback carrying this login's state may end it (success or error): anything
    // else may come from a stale tab or another web page, and must not abort the login.
    let ours = callback
        .state()
        .is_some_and(|state| shared.pending.state().constant_time_eq(state));
    if !ours {
        return refuse(
            "ignored a callback whose `state` does not match this login (a stale tab or a forged request); still waiting for the real one".into(),
            "This callback does not belong to the login in progress (its state does not match), \
             so it was ignored. grantkit is still waiting; finish the login in the tab it opened.",
        );
    }
    let Some(done) = shared.done.lock().ok().and_then(|mut d| d.take()) else {
        return page_response(
            StatusCode::BAD_REQUEST,
            "Already done",
            "This login has already received its callback.",
        );
    };
    match shared.pending.verify(&callback) {
        Ok(code) => {
            let (reply, outcome) = oneshot::channel();
            let _ = done.send(Ok((code, reply)));
            exchange_page(tokio::time::timeout(ANSWER_WAIT, outcome).await)
        }
        Err(e) => {
            let page = format!("The login failed: {e}. Return to the terminal.");
            let _ = done.send(Err(WaitError::Callback(e)));
            page_response(StatusCode::BAD_REQUEST, "Login failed", &page)
        }
    }
}

/// The page for the exchange's outcome.
fn exchange_page(
    outcome: Result<
        Result<Result<(), String>, oneshot::error::RecvError>,
        tokio::time::error::Elapsed,
    >,
) -> Response {
    match outcome {
        Ok(Ok(Ok(()))) => page_response(
            StatusCode::OK,
            "Logged in",
            "grantkit exchanged the code for tokens. You can close this tab and return to the terminal.",
        ),
        Ok(Ok(Err(why))) => page_response(
            StatusCode::BAD_REQUEST,
            "Login failed",
            &format!("The login failed: {why}. Return to the terminal for what to do."),
        ),
        _ => page_response(
            StatusCode::INTERNAL_SERVER_ERROR,
            "Login not confirmed",
            "grantkit received the code but did not say how the exchange ended. Return to the terminal.",
        ),
    }
}

async fn other(State(shared): State<Arc<Shared>>, uri: axum::http::Uri) -> Response {
    let path: String = uri.path().chars().take(100).collect();
    let _ = shared.notes.send(format!(
        "ignored a request to {path} (the login callback is /callback); still waiting"
    ));
    page_response(
        StatusCode::NOT_FOUND,
        "Not found",
        "grantkit is waiting for the login callback at /callback.",
    )
}

fn page_response(status: StatusCode, title: &str, text: &str) -> Response {
    let body = format!(
        "<!doctype html><html><head><meta charset=\"utf-8\"><title>grantkit: {t}</title></head>\
         <body style=\"font-family:sans-serif;max-width:40em;margin:4em auto\"><h1>{t}</h1><p>{x}</p></body></html>",
        t = escape(title),
        x = escape(text)
    );
    let mut response = (status, Html(body)).into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
