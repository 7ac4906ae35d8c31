//! How a node reaches its partners: the HTTP client (reqwest over rustls, with the public web roots compiled in and
//! any private police CA the operator names), the check that warns when case data would cross a network in clear,
//! and the one unauthenticated call, fetching a partner's public identity for `peer add --endpoint`.

use std::time::Duration;

use jikimi_exchange::domain::Agency;
use jikimi_exchange::{Error, Result};

/// How this node reaches its partners.
#[derive(Debug, Clone, Default)]
pub struct Transport {
    /// Certificates of private certificate authorities to trust for `https://` partner endpoints, on top of the
    /// public web roots compiled into the binary (police networks often run their own PKI).
    pub extra_roots: Vec<reqwest::Certificate>,
}

impl Transport {
    /// Reads the extra roots from a PEM file once, refusing at start a file that holds no certificate.
    pub fn with_ca_file(path: &std::path::Path) -> Result<Transport> {
        let bad = |reason: String| {
            Error::invalid("peer CA file", format!("{}: {reason}", path.display()))
        };
        let pem = std::fs::read(path).map_err(|e| bad(e.to_string()))?;
        let extra_roots =
            reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| bad(e.to_string()))?;
        if extra_roots.is_empty() {
            return Err(bad("no PEM certificate in it".into()));
        }
        Ok(Transport { extra_roots })
    }

    /// The HTTP client: TLS (rustls) with the web roots and the extra ones; plain HTTP is still allowed, for a
    /// partner behind a local TLS-terminating proxy or on a loopback test network.
    pub fn client(&self) -> Result<reqwest::Client> {
        let builder = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .min_tls_version(reqwest::tls::Version::TLS_1_2);
        self.extra_roots
            .iter()
            .fold(builder, |b, cert| b.add_root_certificate(cert.clone()))
            .build()
            .map_err(|e| Error::Transport {
                peer: "-".into(),
                reason: e.to_string(),
            })
    }
}

/// Whether an endpoint sends case data in clear over a network: `http://` to anything but this machine.
pub fn is_plain_remote(endpoint: &str) -> bool {
    let Some(rest) = endpoint.strip_prefix("http://") else {
        return false;
    };
    let host = rest.split(['/', '?']).next().unwrap_or("");
    let host = host
        .rsplit_once(':')
        .filter(|(h, port)| !h.is_empty() && port.chars().all(|c| c.is_ascii_digit()))
        .map_or(host, |(h, _)| h);
    !matches!(host, "localhost" | "127.0.0.1" | "[::1]") && !host.starts_with("127.")
}

/// Fetches a node's public identity from its federation endpoint, over `transport`.
pub async fn fetch_agency(url: &str, transport: &Transport) -> Result<Agency> {
    let t = |reason: String| Error::Transport {
        peer: url.to_string(),
        reason,
    };
    let resp = transport
        .client()?
        .get(format!("{url}/federation/v1/agency"))
        .send()
        .await
        .map_err(|e| t(e.to_string()))?;
    resp.json::<Agency>().await.map_err(|e| t(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_is_flagged_unless_it_stays_on_this_machine() {
        assert!(is_plain_remote("http://partner.police.example:8112"));
        assert!(is_plain_remote("http://10.0.0.7:8112/"));
        assert!(!is_plain_remote("https://partner.police.example"));
        assert!(!is_plain_remote("http://127.0.0.1:8112"));
        assert!(!is_plain_remote("http://localhost:8112"));
        assert!(!is_plain_remote("http://[::1]:8112"));
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused() {
        let dir = std::env::temp_dir().join(format!("jikimi-ca-{}", std::process::id()));
        let _ = std::fs::create_dir_all(&dir);
        let junk = dir.join("junk.pem");
        let _ = std::fs::write(&junk, b"not a certificate");
        assert!(matches!(
            Transport::with_ca_file(&junk),
            Err(Error::Invalid { .. })
        ));
        let _ = std::fs::remove_dir_all(&dir);
        assert!(Transport::default().client().is_ok());
    }
}
