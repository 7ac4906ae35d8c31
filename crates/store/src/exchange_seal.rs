//! Sealing the cooperation tables at rest: the agency signing key and record bodies as `sealed:<base64>` text,
//! sealed with the operator's data keyring (`jikimi_privacy::Keyring`), the associated data naming the row so a
//! ciphertext moved to another row does not open. Clear values an earlier version wrote are still read (and sealed by
//! `seal_exchange_at_rest`, see [`crate::exchange`]).

use jikimi_exchange::domain::Record;

use crate::exchange::json;

/// The text prefix of a sealed column value.
const SEALED_PREFIX: &str = "sealed:";

/// Associated data of a record body: the record id, so a sealed body moved to another row does not open.
pub(crate) fn record_subject(id: &str) -> String {
    format!("exchange/record/{id}")
}

/// Associated data of the agency signing key.
pub(crate) const IDENTITY_SUBJECT: &str = "exchange/identity";

/// The keyring, or the refusal every sealed read or write gives without one.
pub(crate) fn keys(
    keyring: &Option<std::sync::Arc<jikimi_privacy::Keyring>>,
) -> jikimi_exchange::Result<&jikimi_privacy::Keyring> {
    keyring.as_deref().ok_or_else(|| jikimi_exchange::Error::Store {
        during: "sealing",
        source: Box::new(crate::Error::Invalid(
            "cooperation data is sealed: give the data keys (--key-file, --data-key or JIKIMI_KEY_FILE)".into(),
        )),
    })
}

fn sealing(e: jikimi_privacy::Error) -> jikimi_exchange::Error {
    jikimi_exchange::Error::Store {
        during: "sealing",
        source: Box::new(e),
    }
}

/// Seals `plain` for column text.
pub(crate) fn seal(
    keys: &jikimi_privacy::Keyring,
    subject: &str,
    field: &str,
    plain: &[u8],
) -> jikimi_exchange::Result<String> {
    use base64::Engine as _;
    let sealed = keys.seal(subject, field, plain).map_err(sealing)?;
    Ok(format!(
        "{SEALED_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(sealed.to_bytes())
    ))
}

/// Whether column text is sealed (else it is a clear value an earlier version wrote).
pub(crate) fn is_sealed(stored: &str) -> bool {
    stored.starts_with(SEALED_PREFIX)
}

/// Opens column text written by [`seal`]; clear text from before sealing is returned as it is.
pub(crate) fn open(
    keys: &jikimi_privacy::Keyring,
    subject: &str,
    field: &str,
    stored: &str,
) -> jikimi_exchange::Result<zeroize::Zeroizing<Vec<u8>>> {
    use base64::Engine as _;
    let Some(encoded) = stored.strip_prefix(SEALED_PREFIX) else {
        return Ok(zeroize::Zeroizing::new(stored.as_bytes().to_vec()));
    };
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(encoded)
        .map_err(|_| sealing(jikimi_privacy::Error::Malformed("not base64")))?;
    let sealed = jikimi_privacy::Sealed::from_bytes(&bytes).map_err(sealing)?;
    Ok(zeroize::Zeroizing::new(
        keys.open(subject, field, &sealed).map_err(sealing)?,
    ))
}

/// A record body: sealed JSON of the whole record.
pub(crate) fn seal_record(
    keys: &jikimi_privacy::Keyring,
    record: &Record,
) -> jikimi_exchange::Result<String> {
    let plain = zeroize::Zeroizing::new(json(record)?);
    seal(
        keys,
        &record_subject(&record.id.to_string()),
        "body",
        plain.as_bytes(),
    )
}

/// Opens a record body of row `id`.
pub(crate) fn open_record(
    keys: &jikimi_privacy::Keyring,
    id: &str,
    stored: &str,
) -> jikimi_exchange::Result<Record> {
    let plain = open(keys, &record_subject(id), "body", stored)?;
    serde_json::from_slice(&plain).map_err(jikimi_exchange::Error::Encoding)
}

/// The agency signing key, sealed.
pub(crate) fn seal_signing_key(
    keys: &jikimi_privacy::Keyring,
    key: &ed25519_dalek::SigningKey,
) -> jikimi_exchange::Result<String> {
    seal(keys, IDENTITY_SUBJECT, "signing_key", key.as_bytes())
}

/// Opens the agency signing key (sealed raw bytes; from before sealing, 64 hex digits).
pub(crate) fn open_signing_key(
    keys: &jikimi_privacy::Keyring,
    stored: &str,
) -> jikimi_exchange::Result<ed25519_dalek::SigningKey> {
    let corrupt = || crate::exchange::ex("open key")(crate::Error::corrupt("stored agency key"));
    let bytes: [u8; 32] = if is_sealed(stored) {
        let plain = open(keys, IDENTITY_SUBJECT, "signing_key", stored)?;
        plain.as_slice().try_into().map_err(|_| corrupt())?
    } else {
        hex::decode(stored)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(corrupt)?
    };
    Ok(ed25519_dalek::SigningKey::from_bytes(&bytes))
}
