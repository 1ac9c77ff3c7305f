//! `grantkit`: log in to OAuth 2.0 / OpenID Connect providers from the terminal (RFC 8252
//! loopback redirect), hand out access tokens to scripts, and run the demo.
//!
//! See `docs/cli.md` for every command, its examples and the exit codes.

// The CLI never panics on what it reads; CI's `clippy -D warnings` turns these into errors.
#![cfg_attr(
    not(test),
    warn(
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::indexing_slicing,
        clippy::panic
    )
)]

mod cli;
mod commands;
mod error;
mod loopback;
mod output;
mod profile;
mod providers;

use std::process::ExitCode;

use clap::error::ErrorKind;
use clap::Parser;

use crate::cli::{Cli, Command};
use crate::commands::Ctx;
use crate::error::{CliError, CliResult, Exit};
use crate::output::Out;
use crate::profile::Paths;

fn main() -> ExitCode {
    let out = Out::new();
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return clap_error(&out, e),
    };
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            out.error(&format!("could not start the async runtime: {e}"));
            return ExitCode::from(Exit::Failure as u8);
        }
    };
    match runtime.block_on(run(cli, out)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            out.error(e.message());
            ExitCode::from(e.exit as u8)
        }
    }
}

async fn run(cli: Cli, out: Out) -> CliResult {
    let paths = Paths::resolve(&cli.profile.profile, cli.profile.token_file.as_deref())?;
    let ctx = Ctx {
        out,
        paths,
        secret: cli.profile.client_secret.filter(|s| !s.is_empty()),
        private_key: cli
            .profile
            .private_key
            .filter(|p| !p.as_os_str().is_empty()),
        tls_identity: cli
            .profile
            .tls_identity
            .filter(|p| !p.as_os_str().is_empty()),
        ca_cert: cli.profile.ca_cert.filter(|p| !p.as_os_str().is_empty()),
    };
    match cli.command {
        Command::Login(args) => commands::login::run(&ctx, args).await,
        Command::Token(args) => commands::tokens::token(&ctx, args).await,
        Command::Refresh(args) => commands::tokens::refresh(&ctx, args).await,
        Command::Revoke(args) => commands::tokens::revoke(&ctx, args).await,
        Command::Userinfo(args) => commands::tokens::userinfo(&ctx, args).await,
        Command::Introspect(args) => commands::tokens::introspect(&ctx, args).await,
        Command::Status(args) => commands::tokens::status(&ctx, args).await,
        Command::Profiles(args) => commands::tokens::profiles(&ctx, args).await,
        Command::Demo(args) => commands::demo::run(&ctx, args).await,
    }
}

/// Help and version go out as clap renders them; usage errors become one line (exit 2).
fn clap_error(out: &Out, e: clap::Error) -> ExitCode {
    match e.kind() {
        ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
            let _ = e.print();
            ExitCode::SUCCESS
        }
        ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            let _ = e.print();
            ExitCode::from(Exit::Usage as u8)
        }
        _ => {
            let rendered = e.render().to_string();
            let mut parts = Vec::new();
            for line in rendered.lines().map(str::trim) {
                if line.is_empty() || line.starts_with("For more information") {
                    continue;
                }
                if line.starts_with("Usage:") {
                    break;
                }
                parts.push(line.strip_prefix("error: ").unwrap_or(line).to_owned());
            }
            let message = CliError::usage(format!("{} (see grantkit --help)", parts.join(" ")));
            out.error(message.message());
            ExitCode::from(Exit::Usage as u8)
        }
    }
}
