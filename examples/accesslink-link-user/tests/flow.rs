//! The example's flow against the fake AccessLink, as a function and as the built binary.

use std::process::Command;

#[tokio::test]
async fn the_flow_links_registers_reads_and_deregisters() {
    let summary = example_accesslink_link_user::run_against_fake()
        .await
        .expect("the flow succeeds against the fake");
    assert!(summary.newly_registered);
    assert_eq!(summary.user.polar_user_id.0, 10579);
    assert!(summary.token_revoked, "deregistration revokes the token");
}

#[test]
fn the_binary_runs_against_the_fake_without_credentials() {
    let output = Command::new(env!("CARGO_BIN_EXE_accesslink-link-user"))
        .env_remove("ACCESSLINK_CLIENT_ID")
        .env_remove("ACCESSLINK_CLIENT_SECRET")
        .output()
        .expect("the example binary starts");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("done: linked, registered, read and deregistered user 10579"),
        "{stdout}"
    );
    assert!(
        !stdout.contains(grantkit_testkit::ACCESSLINK_CLIENT_SECRET),
        "{stdout}"
    );
}
