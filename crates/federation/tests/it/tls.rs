//! Federation over HTTPS: a partner behind TLS with a certificate from a private police CA. The node syncs when
//! it is told to trust that CA, and refuses the partner when it is not (no silent downgrade).

use jikimi_exchange::error::Error;
use jikimi_federation::{Node, Transport};

use crate::support::*;

/// A CA, and a certificate for `localhost` signed by it: (CA PEM, server certificate PEM, server key PEM).
fn private_pki() -> (String, String, String) {
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(rcgen::DnType::CommonName, "jikimi test police CA");
    ca.key_usages = vec![
        rcgen::KeyUsagePurpose::KeyCertSign,
        rcgen::KeyUsagePurpose::CrlSign,
    ];
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::from_params(&ca, &ca_key);
    let server = rcgen::CertificateParams::new(vec!["localhost".to_string()]).unwrap();
    let server_key = rcgen::KeyPair::generate().unwrap();
    let server_cert = server.signed_by(&server_key, &issuer).unwrap();
    (ca_cert.pem(), server_cert.pem(), server_key.serialize_pem())
}

#[tokio::test]
async fn sync_over_https_with_a_private_ca_and_refusal_without_it() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let (ca_pem, cert_pem, key_pem) = private_pki();
    let dir = tempfile::tempdir().unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let a = node(dir.path(), "a", "KR").await;
    let mut b = node(dir.path(), "b", "TH").await;
    b.me.endpoint = Some(format!("https://localhost:{port}"));
    mesh(&[&a, &b]).await;
    share(&[&a, &b], all_fields(), false).await;
    let case = scam_case(&b, amber(), "over tls").await;
    let config = axum_server::tls_rustls::RustlsConfig::from_pem(
        cert_pem.into_bytes(),
        key_pem.into_bytes(),
    )
    .await
    .unwrap();
    let server = axum_server::from_tcp_rustls(listener, config).unwrap();
    tokio::spawn(server.serve(
        jikimi_server::federation::app(federation_service(&b), 1 << 20).into_make_service(),
    ));

    // Without the CA: the partner's certificate is not trusted, and nothing is pulled.
    let untrusting = Node::open(a.store.clone()).await.unwrap();
    let refused = untrusting.sync_peer(&b.me).await;
    assert!(
        matches!(refused, Err(Error::Transport { .. })),
        "{refused:?}"
    );
    assert!(a.store.record(case.id).await.unwrap().is_none());

    // With the police CA: the pull runs over TLS and the case arrives, receipted.
    let ca_file = dir.path().join("police-ca.pem");
    std::fs::write(&ca_file, ca_pem).unwrap();
    let trusting = Node::open_with(a.store.clone(), &Transport::with_ca_file(&ca_file).unwrap())
        .await
        .unwrap();
    let stats = trusting.sync_peer(&b.me).await.unwrap();
    assert_eq!(stats.applied, 1, "{stats:?}");
    assert!(a.store.record(case.id).await.unwrap().is_some());
    assert_eq!(b.store.disclosure_counts(a.id()).await.unwrap(), (1, 1));
}
