//! The MQTT intake's settings beyond the broker URL: the broker login and TLS trust, resolved from the flags,
//! `JIKIMI_MQTT_*` variables and TOML keys that [`crate::config`] collects (one place, so `config.rs` stays small).

use std::path::PathBuf;
use std::sync::Arc;

use super::MqttConfig;

/// The server's broker login. `Debug` never shows the password.
#[derive(Clone, PartialEq, Eq)]
pub struct MqttCredentials {
    /// User name (the broker's ACL gives this user read access to every terminal's topics).
    pub username: String,
    /// Password.
    pub password: String,
}

impl std::fmt::Debug for MqttCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MqttCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// TLS to the broker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MqttTls {
    /// PEM file of the CA(s) that signed the broker's certificate; `None` trusts the public web roots.
    pub ca: Option<PathBuf>,
}

impl MqttTls {
    /// A rustls client configuration (ring provider, TLS 1.2 and 1.3) trusting [`MqttTls::ca`] or the web roots.
    /// The broker's name in the URL (host name or IP address) must match its certificate.
    pub fn client_config(&self) -> Result<rustls::ClientConfig, String> {
        use rustls::pki_types::CertificateDer;
        use rustls::pki_types::pem::PemObject as _;
        let mut roots = rustls::RootCertStore::empty();
        match &self.ca {
            Some(path) => {
                let certs = CertificateDer::pem_file_iter(path)
                    .map_err(|e| format!("cannot read the CA file {}: {e}", path.display()))?;
                for cert in certs {
                    let cert = cert.map_err(|e| {
                        format!("invalid PEM in the CA file {}: {e}", path.display())
                    })?;
                    roots.add(cert).map_err(|e| {
                        format!("invalid CA certificate in {}: {e}", path.display())
                    })?;
                }
                if roots.is_empty() {
                    return Err(format!("no certificate in the CA file {}", path.display()));
                }
            }
            None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
        }
        rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())
        .map(|builder| builder.with_root_certificates(roots).with_no_client_auth())
    }
}

/// What the flags, environment and TOML file said about MQTT (each already merged flag over file).
#[derive(Default)]
pub struct MqttSettings {
    /// `--mqtt`: the broker URL.
    pub url: Option<String>,
    /// `--mqtt-client-id`.
    pub client_id: Option<String>,
    /// `--mqtt-topic-prefix`.
    pub prefix: Option<String>,
    /// `--mqtt-username`.
    pub username: Option<String>,
    /// `--mqtt-password`.
    pub password: Option<String>,
    /// `--mqtt-ca`.
    pub ca: Option<PathBuf>,
}

/// Why a setting is refused: the setting's flag name and a message (never a secret).
pub type SettingError = (&'static str, String);

impl MqttSettings {
    /// The intake's configuration, `None` without a broker URL. Reads the CA file now, so a bad one fails the
    /// start rather than every connection.
    pub fn resolve(self) -> Result<Option<MqttConfig>, SettingError> {
        let Some(url) = self.url else {
            if self.username.is_some() || self.password.is_some() || self.ca.is_some() {
                return Err((
                    "mqtt",
                    "mqtt-username, mqtt-password and mqtt-ca need a broker URL".into(),
                ));
            }
            return Ok(None);
        };
        let mut mqtt = MqttConfig::from_url(
            &url,
            self.client_id.unwrap_or_else(|| "jikimi-server".into()),
        )
        .map_err(|message| ("mqtt", message))?;
        if let Some(prefix) = self.prefix {
            if prefix.is_empty() || prefix.contains(['+', '#']) || prefix.ends_with('/') {
                return Err((
                    "mqtt-topic-prefix",
                    "must be a non-empty topic without wildcards or a trailing slash".into(),
                ));
            }
            mqtt.prefix = prefix;
        }
        mqtt.credentials = match (self.username, self.password) {
            (Some(username), Some(password)) if !username.is_empty() => {
                Some(MqttCredentials { username, password })
            }
            (None, None) => None,
            _ => {
                return Err((
                    "mqtt-username",
                    "give both mqtt-username and mqtt-password".into(),
                ));
            }
        };
        if let Some(ca) = self.ca {
            match &mut mqtt.tls {
                Some(tls) => tls.ca = Some(ca),
                None => {
                    return Err((
                        "mqtt-ca",
                        "a CA is only used with mqtts:// (TLS) broker URLs".into(),
                    ));
                }
            }
        }
        if let Some(tls) = &mqtt.tls {
            tls.client_config()
                .map_err(|message| ("mqtt-ca", message))?;
        }
        Ok(Some(mqtt))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn settings_resolve_and_are_checked() {
        let plain = MqttSettings {
            url: Some("mqtt://127.0.0.1".into()),
            username: Some("jikimi-server".into()),
            password: Some("s3cret-broker-pass".into()),
            ..MqttSettings::default()
        }
        .resolve()
        .unwrap()
        .unwrap();
        assert_eq!(plain.port, 1883);
        assert!(plain.tls.is_none());
        assert!(!format!("{plain:?}").contains("s3cret-broker-pass"));
        let tls = MqttSettings {
            url: Some("mqtts://broker.example".into()),
            ..MqttSettings::default()
        }
        .resolve()
        .unwrap()
        .unwrap();
        assert_eq!((tls.port, tls.tls.is_some()), (8883, true));
        for (bad, setting) in [
            (
                MqttSettings {
                    url: Some("mqtt://b".into()),
                    username: Some("u".into()),
                    ..MqttSettings::default()
                },
                "mqtt-username",
            ),
            (
                MqttSettings {
                    url: Some("mqtt://b".into()),
                    ca: Some("/nonexistent/ca.pem".into()),
                    ..MqttSettings::default()
                },
                "mqtt-ca",
            ),
            (
                MqttSettings {
                    url: Some("mqtts://b".into()),
                    ca: Some("/nonexistent/ca.pem".into()),
                    ..MqttSettings::default()
                },
                "mqtt-ca",
            ),
            (
                MqttSettings {
                    password: Some("p".into()),
                    ..MqttSettings::default()
                },
                "mqtt",
            ),
        ] {
            assert_eq!(bad.resolve().unwrap_err().0, setting);
        }
        assert!(MqttSettings::default().resolve().unwrap().is_none());
    }
}
