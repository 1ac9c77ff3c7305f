//! Links a Polar Flow user through AccessLink, registers them, reads them back, deregisters.
//!
//! Without configuration it runs against a fake AccessLink on loopback (no network, no account):
//!
//! ```sh
//! cargo run -p example-accesslink-link-user
//! ```
//!
//! Against the real AccessLink, with a client from admin.polaraccesslink.com:
//!
//! ```sh
//! ACCESSLINK_CLIENT_ID=... ACCESSLINK_CLIENT_SECRET=... \
//! ACCESSLINK_REDIRECT_URI=https://your.registered/callback \   # optional
//!   cargo run -p example-accesslink-link-user
//! ```
//!
//! It prints the authorization URL; open it, log in to Polar Flow and accept. Your browser is
//! then sent to the redirect URI: copy the whole URL from the address bar (the page itself may
//! fail to load, that is fine) and paste it here. Note that the run ends by deregistering the
//! user, which revokes the token.

use std::io::BufRead;

use example_accesslink_link_user::{link_user, run_against_fake, BoxError, Config};
use grantkit_polar_accesslink::Endpoints;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let id = std::env::var("ACCESSLINK_CLIENT_ID").ok();
    let secret = std::env::var("ACCESSLINK_CLIENT_SECRET").ok();
    let summary = match (id, secret) {
        (Some(client_id), Some(secret)) => {
            let config = Config {
                endpoints: Endpoints::production(),
                client_id,
                client_secret: secret.into(),
                redirect_uri: std::env::var("ACCESSLINK_REDIRECT_URI").ok(),
            };
            link_user(&config, |url| async move {
                println!(
                    "\nOpen this URL, accept, then paste the URL you were redirected to:\n{url}\n"
                );
                let line = tokio::task::spawn_blocking(|| {
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line).map(|_| line)
                })
                .await??;
                Ok(line.trim().to_owned())
            })
            .await?
        }
        _ => {
            println!(
                "ACCESSLINK_CLIENT_ID/ACCESSLINK_CLIENT_SECRET not set: using a fake AccessLink"
            );
            run_against_fake().await?
        }
    };
    if !summary.token_revoked {
        return Err("the token still works after deregistration".into());
    }
    println!(
        "done: linked, registered, read and deregistered user {}",
        summary.user.polar_user_id
    );
    Ok(())
}
