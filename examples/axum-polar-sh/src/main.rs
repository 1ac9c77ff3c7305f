//! Runs the example on http://127.0.0.1:3000 (or `PORT`).
//!
//! With `POLAR_CLIENT_ID` and `POLAR_CLIENT_SECRET` set, it talks to the Polar.sh **sandbox**
//! (register `http://127.0.0.1:PORT/auth/callback` as the redirect URI). Without them, it starts
//! the testkit's fake Polar.sh and registers a client there, so it runs with no account at all.

use grantkit_polar_sh::{ClientMetadata, PolarSh, Scope};
use grantkit_testkit::polar_sh::FakePolarSh;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(3000);
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    let redirect_uri = format!("http://{}/auth/callback", listener.local_addr()?);

    let mut _fake = None;
    let settings = match (
        std::env::var("POLAR_CLIENT_ID"),
        std::env::var("POLAR_CLIENT_SECRET"),
    ) {
        (Ok(client_id), Ok(client_secret)) => example_axum_polar_sh::Settings {
            polar: PolarSh::sandbox(),
            client_id,
            client_secret,
            redirect_uri,
        },
        _ => {
            let fake = FakePolarSh::start().await?;
            let polar = PolarSh::custom(fake.api_base(), fake.web_base());
            let meta = ClientMetadata::new(
                "axum example",
                vec![redirect_uri.clone()],
                &[Scope::OpenId, Scope::Email, Scope::ProductsRead],
            );
            let registered = polar.registrar()?.register(&meta).await?;
            eprintln!(
                "no POLAR_CLIENT_ID: using the fake Polar.sh at {}",
                fake.api_base()
            );
            _fake = Some(fake);
            example_axum_polar_sh::Settings {
                polar,
                client_id: registered.client_id,
                client_secret: registered
                    .client_secret
                    .map(|s| s.expose().to_owned())
                    .unwrap_or_default(),
                redirect_uri,
            }
        }
    };
    let app = example_axum_polar_sh::app(settings).await?;
    eprintln!(
        "open http://{}/ and click \"Connect with Polar\"",
        listener.local_addr()?
    );
    axum::serve(listener, app).await?;
    Ok(())
}
