//! `jikimi serve --tls-cert --tls-key`: console, API and federation over HTTPS without a proxy. A client that
//! trusts the issuing CA gets answers; plain HTTP to the same port gets none; a bad key file stops the start.

use crate::process::Site;

/// A throw-away CA and a certificate for `localhost` signed by it, written to `dir`: (CA, certificate, key) paths.
fn pki(dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).expect("ca params");
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "jikimi test CA");
    let ca_key = rcgen::KeyPair::generate().expect("ca key");
    let ca_cert = ca.self_signed(&ca_key).expect("ca cert");
    let issuer = rcgen::Issuer::from_params(&ca, &ca_key);
    let params = rcgen::CertificateParams::new(vec!["localhost".to_string()]).expect("params");
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = params.signed_by(&key, &issuer).expect("cert");
    let paths = (
        dir.join("ca.pem"),
        dir.join("cert.pem"),
        dir.join("key.pem"),
    );
    std::fs::write(&paths.0, ca_cert.pem()).expect("write ca");
    std::fs::write(&paths.1, cert.pem()).expect("write cert");
    std::fs::write(&paths.2, key.serialize_pem()).expect("write key");
    paths
}

#[tokio::test]
async fn serve_speaks_https_with_the_given_certificate() {
    let site = Site::new();
    let (ca, cert, key) = pki(site.dir.path());
    let (cert, key) = (cert.to_string_lossy(), key.to_string_lossy());
    let (mut child, url) = site.serve_with(&[("JIKIMI_TLS_CERT", &cert), ("JIKIMI_TLS_KEY", &key)]);
    assert!(url.starts_with("https://"), "{url}");
    let port = url.rsplit(':').next().unwrap_or_default().to_string();

    let trusting = reqwest::Client::builder()
        .add_root_certificate(
            reqwest::Certificate::from_pem(&std::fs::read(&ca).expect("ca")).expect("ca pem"),
        )
        .build()
        .expect("client");
    let health = trusting
        .get(format!("https://localhost:{port}/healthz"))
        .send()
        .await
        .expect("https request");
    assert!(health.status().is_success(), "{}", health.status());
    // Over HTTPS, browsers are told to refuse plain HTTP to this host from now on.
    assert_eq!(
        health
            .headers()
            .get("strict-transport-security")
            .and_then(|v| v.to_str().ok()),
        Some("max-age=31536000")
    );

    // Plain HTTP to the TLS port gets no HTTP answer.
    let plain = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}/healthz"))
        .timeout(std::time::Duration::from_secs(5))
        .send()
        .await;
    assert!(plain.is_err() || !plain.is_ok_and(|r| r.status().is_success()));
    let _ = child.kill();
    let _ = child.wait();

    // A key that is not a key stops the start with a clear message.
    std::fs::write(site.dir.path().join("bad.pem"), "not a key").expect("write");
    let bad = site.dir.path().join("bad.pem");
    let (ok, text) = site.run(
        &["serve", "--listen", "127.0.0.1:0"],
        &[
            ("JIKIMI_TLS_CERT", &cert),
            ("JIKIMI_TLS_KEY", &bad.to_string_lossy()),
        ],
    );
    assert!(!ok);
    assert!(text.contains("cannot load the TLS certificate"), "{text}");
}
