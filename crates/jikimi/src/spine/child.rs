//! The `jikimi serve` child process the benchmarks measure against (this same binary, as an operator runs it).

use anyhow::Context as _;
use jikimi_server::config::KeyMaterial;

/// The child `jikimi serve`, killed when dropped.
pub struct Child(std::process::Child);

impl Child {
    /// The process id (to read its memory).
    pub fn id(&self) -> u32 {
        self.0.id()
    }
}

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Starts `jikimi serve` (this binary) on `database_url` with `extra` flags; returns it and its base URL.
pub async fn spawn_server(
    database_url: &str,
    keys: &KeyMaterial,
    extra: &[&str],
) -> anyhow::Result<(Child, String)> {
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let mut command = std::process::Command::new(exe);
    command
        .args([
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--database-url",
            database_url,
        ])
        .args(extra)
        .env("JIKIMI_DATA_KEY", hex::encode(keys.data_keys[0].1))
        .env("JIKIMI_BLIND_INDEX_KEY", hex::encode(keys.blind_index_key))
        .env("RUST_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::inherit());
    let mut child = Child(command.spawn().context("cannot start jikimi serve")?);
    let stdout = child
        .0
        .stdout
        .take()
        .context("no stdout from jikimi serve")?;
    let first_line = tokio::task::spawn_blocking(move || {
        use std::io::BufRead as _;
        let mut line = String::new();
        let _ = std::io::BufReader::new(stdout).read_line(&mut line);
        line
    })
    .await?;
    let base = first_line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .with_context(|| format!("jikimi serve did not start: {first_line:?}"))?
        .to_string();
    Ok((child, base))
}
