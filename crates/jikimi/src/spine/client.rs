//! A small HTTP client for the API, used by the demo's simulator and the intake benchmark: staff login, setup
//! calls, and signed alerts sent exactly as a device would.

use anyhow::Context as _;
use ed25519_dalek::SigningKey;
use jikimi_server::signing;
use serde_json::{Value, json};

/// A device the simulator or benchmark drives.
pub struct Device {
    /// Registered id.
    pub id: uuid::Uuid,
    /// Its signing key.
    pub key: SigningKey,
}

/// An API client bound to a base URL, with an optional staff token.
#[derive(Clone)]
pub struct ApiClient {
    /// `http://host:port`.
    pub base: String,
    http: reqwest::Client,
    token: Option<String>,
}

impl ApiClient {
    /// A client for `base` with keep-alive connections.
    pub fn new(base: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .pool_max_idle_per_host(1024)
            .timeout(std::time::Duration::from_secs(30))
            .build()
            .context("cannot build the http client")?;
        Ok(Self {
            base: base.trim_end_matches('/').to_string(),
            http,
            token: None,
        })
    }

    /// The staff token, once logged in.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// Logs in and keeps the token.
    pub async fn login(&mut self, username: &str, password: &str) -> anyhow::Result<()> {
        let response: Value = self
            .post_json(
                "/api/auth/login",
                &json!({"username": username, "password": password}),
            )
            .await?;
        self.token = response["token"].as_str().map(str::to_string);
        anyhow::ensure!(self.token.is_some(), "login answered without a token");
        Ok(())
    }

    /// POST with the staff token; errors carry the API's error code.
    pub async fn post_json(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(reqwest::Method::POST, path, Some(body)).await
    }

    /// GET with the staff token.
    pub async fn get_json(&self, path: &str) -> anyhow::Result<Value> {
        self.send(reqwest::Method::GET, path, None).await
    }

    /// PUT with the staff token.
    pub async fn put_json(&self, path: &str, body: &Value) -> anyhow::Result<Value> {
        self.send(reqwest::Method::PUT, path, Some(body)).await
    }

    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{}", self.base, path));
        if let Some(token) = &self.token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        anyhow::ensure!(
            status.is_success(),
            "{method} {path} answered {status}: {text}"
        );
        if text.is_empty() {
            return Ok(Value::Null);
        }
        serde_json::from_str(&text).with_context(|| format!("{method} {path}: answer is not json"))
    }

    /// Registers one subscriber with `n_devices` fresh device keys; returns the devices.
    pub async fn register_devices(
        &self,
        subscriber: &Value,
        n_devices: usize,
    ) -> anyhow::Result<Vec<Device>> {
        let keys: Vec<SigningKey> = (0..n_devices)
            .map(|_| signing::generate_device_key())
            .collect();
        let mut body = subscriber.clone();
        body["devices"] = Value::Array(
            keys.iter()
                .map(|k| json!({"public_key": hex::encode(k.verifying_key().to_bytes()), "kind": "app"}))
                .collect(),
        );
        let registered = self.post_json("/api/subscribers", &body).await?;
        let ids = registered["device_ids"]
            .as_array()
            .context("registration answered without device ids")?;
        ids.iter()
            .zip(keys)
            .map(|(id, key)| {
                let id = id
                    .as_str()
                    .and_then(|s| uuid::Uuid::parse_str(s).ok())
                    .context("bad device id")?;
                Ok(Device { id, key })
            })
            .collect()
    }

    /// Sends a device request signed with `headers` (no staff token); errors carry the API's error code.
    pub async fn signed(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &signing::SignedHeaders,
        body: Vec<u8>,
    ) -> anyhow::Result<Value> {
        let mut request = self
            .http
            .request(method.clone(), format!("{}{}", self.base, path))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body);
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        let response = request
            .send()
            .await
            .with_context(|| format!("{method} {path}"))?;
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        anyhow::ensure!(
            status.is_success(),
            "{method} {path} answered {status}: {text}"
        );
        serde_json::from_str(&text).with_context(|| format!("{method} {path}: answer is not json"))
    }

    /// Sends one signed alert; returns the HTTP status and the body.
    pub async fn send_alert(&self, device: &Device, body: &Value) -> anyhow::Result<(u16, Value)> {
        let bytes = serde_json::to_vec(body)?;
        let now_s = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or_default();
        let headers = signing::sign_alert(&device.key, &device.id, now_s, &bytes);
        let mut request = self
            .http
            .post(format!("{}/api/alerts", self.base))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(bytes);
        for (name, value) in headers.pairs() {
            request = request.header(name, value);
        }
        let response = request.send().await.context("POST /api/alerts")?;
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }
}
