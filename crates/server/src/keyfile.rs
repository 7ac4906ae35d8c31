//! Key files: written with mode 0600 from their first byte (never world-readable, not even between a write and a
//! `chmod`), and refused on load when group or others may read or write them, as OpenSSH refuses a private key.
//! Also the one place the operator's [`KeyMaterial`] becomes the data [`Keyring`].

use std::path::Path;

use jikimi_privacy::Keyring;

use crate::config::{ConfigError, KeyMaterial};

impl KeyMaterial {
    /// The key file text for these keys (write it with [`write_key_file`]).
    pub fn to_key_file(&self) -> String {
        let mut out = String::from("# jikimi key file: keep secret (mode 0600)\n[keys]\n");
        out.push_str(&format!(
            "current_data_key_id = \"{}\"\n",
            self.current_data_key_id
        ));
        out.push_str(&format!(
            "blind_index_key = \"{}\"\n",
            hex::encode(self.blind_index_key)
        ));
        out.push_str("\n[keys.data_keys]\n");
        for (id, key) in &self.data_keys {
            out.push_str(&format!("\"{}\" = \"{}\"\n", id, hex::encode(key)));
        }
        out
    }

    /// The data keyring these keys make (what seals personal fields and the cooperation tables).
    pub fn keyring(&self) -> Result<Keyring, ConfigError> {
        Keyring::new(&self.current_data_key_id, self.data_keys.iter().cloned()).map_err(|e| {
            ConfigError::Invalid {
                setting: "data-key",
                message: e.to_string(),
            }
        })
    }
}

/// Writes `keys` as a key file at `path`, created new with mode 0600 (it fails if the file exists: keys are never
/// silently replaced).
pub fn write_key_file(path: &Path, keys: &KeyMaterial) -> Result<(), ConfigError> {
    use std::io::Write as _;
    let failed = |source| ConfigError::Write {
        path: path.to_path_buf(),
        source,
    };
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(failed)?;
    file.write_all(keys.to_key_file().as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(failed)
}

/// Refuses a file holding keys that group or others may access (mode bits 0o077): anyone else on the machine could
/// read the keys that open every sealed field.
pub fn check_private(path: &Path) -> Result<(), ConfigError> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let metadata = std::fs::metadata(path).map_err(|source| ConfigError::Read {
            path: path.to_path_buf(),
            source,
        })?;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(ConfigError::InsecureKeyFile {
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir() -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("jikimi-keyfile-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap_or_default();
        dir
    }

    #[cfg(unix)]
    #[test]
    fn written_key_file_has_mode_0600_and_loads() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = temp_dir();
        let path = dir.join("keys.toml");
        let keys = KeyMaterial::generate();
        assert!(write_key_file(&path, &keys).is_ok());
        let mode = std::fs::metadata(&path).map(|m| m.permissions().mode() & 0o777);
        assert_eq!(mode.ok(), Some(0o600));
        let loaded = crate::config::read_key_file(&path).map(|k| k.data_keys.len());
        assert_eq!(loaded.ok(), Some(1));
        // Never replaced: a second write fails and leaves the first keys.
        assert!(write_key_file(&path, &KeyMaterial::generate()).is_err());
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn world_readable_key_file_is_refused() {
        use std::os::unix::fs::PermissionsExt as _;
        let dir = temp_dir();
        let path = dir.join("keys.toml");
        assert!(write_key_file(&path, &KeyMaterial::generate()).is_ok());
        for loose in [0o644, 0o640, 0o604, 0o660] {
            assert!(
                std::fs::set_permissions(&path, std::fs::Permissions::from_mode(loose)).is_ok()
            );
            let refused = crate::config::read_key_file(&path);
            assert!(
                matches!(refused, Err(ConfigError::InsecureKeyFile { mode, .. }) if mode == loose),
                "{loose:o}: {refused:?}"
            );
            let message = refused.err().map(|e| e.to_string()).unwrap_or_default();
            assert!(message.contains("chmod 600"), "{message}");
            // The same file named through the flags is refused just the same.
            let args = crate::config::ConfigArgs {
                key_file: Some(path.clone()),
                ..crate::config::ConfigArgs::default()
            };
            assert!(matches!(
                args.resolve(true),
                Err(ConfigError::InsecureKeyFile { .. })
            ));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
