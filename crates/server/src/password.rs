//! Staff passwords (argon2id, PHC strings) and session tokens (random, stored only as a SHA-256 hash), and the
//! bound on argon2 work ([`Argon2Slots`]): a login flood may queue for its slots but can never take the one kept for
//! cancel and duress PINs, so a person under threat is never made to wait behind it.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use base64::Engine as _;
use rand::Rng as _;
use sha2::{Digest as _, Sha256};

/// Hashes a password into a PHC string (argon2id, default parameters). CPU-heavy: call from `spawn_blocking`.
pub fn hash_password(password: &str) -> Result<String, String> {
    let salt = SaltString::encode_b64(&os_random::<
        { argon2::password_hash::Salt::RECOMMENDED_LENGTH },
    >())
    .map_err(|e| e.to_string())?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|hash| hash.to_string())
        .map_err(|e| e.to_string())
}

/// Checks a password against a PHC string; `false` for a malformed hash. CPU-heavy: call from `spawn_blocking`.
pub fn verify_password(password: &str, phc: &str) -> bool {
    match PasswordHash::new(phc) {
        Ok(parsed) => argon2::Argon2::default()
            .verify_password(password.as_bytes(), &parsed)
            .is_ok(),
        Err(_) => false,
    }
}

/// Who is asking for argon2 work, which decides the slots it may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Priority {
    /// Logins and enrolments: the shared slots only.
    Normal,
    /// Cancel and duress PIN checks: the reserved slot, or a shared one if it frees first.
    Duress,
}

/// Concurrent argon2 computations: `shared` slots for everyone plus one reserved for [`Priority::Duress`].
#[derive(Debug)]
pub struct Argon2Slots {
    shared: tokio::sync::Semaphore,
    reserved: tokio::sync::Semaphore,
}

impl Argon2Slots {
    /// `shared` slots (at least one) and the reserved one.
    pub fn new(shared: u32) -> Argon2Slots {
        Argon2Slots {
            shared: tokio::sync::Semaphore::new(shared.max(1) as usize),
            reserved: tokio::sync::Semaphore::new(1),
        }
    }

    /// Waits for a slot `priority` may use.
    pub async fn acquire(
        &self,
        priority: Priority,
    ) -> Result<tokio::sync::SemaphorePermit<'_>, tokio::sync::AcquireError> {
        match priority {
            Priority::Normal => self.shared.acquire().await,
            Priority::Duress => {
                if let Ok(permit) = self.reserved.try_acquire() {
                    return Ok(permit);
                }
                tokio::select! {
                    permit = self.reserved.acquire() => permit,
                    permit = self.shared.acquire() => permit,
                }
            }
        }
    }

    /// Shared slots free now (for tests and metrics).
    pub fn shared_available(&self) -> usize {
        self.shared.available_permits()
    }
}

/// Runs argon2 work `f` on the blocking pool once a slot for `priority` is free.
pub async fn run_bounded<T: Send + 'static>(
    state: &crate::state::AppState,
    priority: Priority,
    f: impl FnOnce() -> T + Send + 'static,
) -> Result<T, crate::error::ApiError> {
    let _slot = state
        .argon2
        .acquire(priority)
        .await
        .map_err(crate::error::ApiError::internal)?;
    tokio::task::spawn_blocking(f)
        .await
        .map_err(crate::error::ApiError::internal)
}

/// [`verify_password`] within the argon2 bound.
pub async fn verify_bounded(
    state: &crate::state::AppState,
    priority: Priority,
    password: String,
    phc: String,
) -> Result<bool, crate::error::ApiError> {
    run_bounded(state, priority, move || verify_password(&password, &phc)).await
}

/// [`hash_password`] within the argon2 bound.
pub async fn hash_bounded(
    state: &crate::state::AppState,
    priority: Priority,
    password: String,
) -> Result<String, crate::error::ApiError> {
    run_bounded(state, priority, move || hash_password(&password))
        .await?
        .map_err(crate::error::ApiError::internal)
}

/// A new session token (32 random bytes, base64url) for the client.
pub fn new_session_token() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(os_random::<32>())
}

/// What the store keeps instead of the token: a leaked database does not yield usable tokens.
pub fn token_hash(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A random password for seeded accounts (demo).
pub fn generate_password() -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(os_random::<12>())
}

/// `N` bytes from the operating system's generator (salts, tokens, passwords, keys). Its failing is not recoverable:
/// it panics, as rand's `OsRng` did.
pub fn os_random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rand_core::UnwrapErr(rand::rngs::SysRng).fill_bytes(&mut bytes);
    bytes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_round_trip_and_tokens_hash() {
        let phc = hash_password("correct horse").unwrap_or_default();
        assert!(verify_password("correct horse", &phc));
        assert!(!verify_password("wrong", &phc));
        assert!(!verify_password("x", "not a phc string"));
        let token = new_session_token();
        assert_eq!(token_hash(&token).len(), 32);
        assert_ne!(new_session_token(), token);
    }

    #[tokio::test]
    async fn a_duress_check_gets_a_slot_while_every_shared_one_is_taken() {
        use futures_util::FutureExt as _;
        let slots = Argon2Slots::new(2);
        let a = slots.acquire(Priority::Normal).await;
        let b = slots.acquire(Priority::Normal).await;
        assert!(a.is_ok() && b.is_ok());
        assert_eq!(slots.shared_available(), 0);
        // A third login waits for a shared slot; a duress PIN does not.
        assert!(slots.acquire(Priority::Normal).now_or_never().is_none());
        let duress = slots.acquire(Priority::Duress).now_or_never();
        assert!(matches!(duress, Some(Ok(_))));
    }
}
