//! Callback URLs and queries: parsing and verification against a pending authorization.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &str| {
    let provider = grantkit::Provider::builder("fuzz")
        .issuer("https://op.example")
        .authorization_endpoint("https://op.example/authorize")
        .token_endpoint("https://op.example/token")
        .iss_parameter_supported(true)
        .build()
        .unwrap();
    let client = grantkit::Client::builder(provider, "c").build().unwrap();
    let (_, pending) = client.authorize().build().unwrap();
    if let Ok(callback) = grantkit::Callback::parse(data) {
        let _ = pending.verify(&callback);
        let _ = format!("{callback:?}");
    }
    // The same input with our own state in front, to reach the checks behind `state`.
    let with_state = format!("state={}&{data}", pending.state().expose());
    let _ = pending.verify_callback(&with_state);
});
