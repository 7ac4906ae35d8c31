//! The flood-defence settings: flags (`--flood-*`, `--argon2-slots`, `--alert-budget-*`), `JIKIMI_*` variables, the
//! `[flood]` table of the config file, and their defaults. Resolved into [`FloodConfig`] by
//! [`crate::config::ConfigArgs::resolve`].

use serde::Deserialize;

use crate::config::ConfigError;

/// The flood-defence layer of the command line and environment (flattened into `ConfigArgs`), and of the config file
/// ([`FloodFile`]): one struct, so a setting cannot be added to one layer and forgotten in the other.
#[derive(Debug, Default, Clone, clap::Args, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FloodArgs {
    /// Per-source and global request limits in front of the expensive paths (default true). Switch off only to
    /// measure what a flood costs without them (`jikimi bench flood`).
    #[arg(long = "flood-limits", env = "JIKIMI_FLOOD_LIMITS")]
    pub limits: Option<bool>,
    /// Logins one source (IP address, IPv6 /64) may try per minute (default 30).
    #[arg(long = "flood-login-per-min", env = "JIKIMI_FLOOD_LOGIN_PER_MIN")]
    pub login_per_min: Option<u32>,
    /// Logins all sources together may try per second (default 20).
    #[arg(
        long = "flood-login-global-per-s",
        env = "JIKIMI_FLOOD_LOGIN_GLOBAL_PER_S"
    )]
    pub login_global_per_s: Option<u32>,
    /// Unknown device ids one source may send per second (burst 5×) before its look-ups of uncached devices are
    /// answered 429 unchecked (default 20). Known devices are never limited.
    #[arg(
        long = "flood-device-lookups-per-s",
        env = "JIKIMI_FLOOD_DEVICE_LOOKUPS_PER_S"
    )]
    pub device_lookups_per_s: Option<u32>,
    /// The same, for all sources together (default 500).
    #[arg(
        long = "flood-device-lookups-global-per-s",
        env = "JIKIMI_FLOOD_DEVICE_LOOKUPS_GLOBAL_PER_S"
    )]
    pub device_lookups_global_per_s: Option<u32>,
    /// Refused AML gateway credentials one source may cause per minute before it is refused unchecked (default 30).
    #[arg(
        long = "flood-aml-failures-per-min",
        env = "JIKIMI_FLOOD_AML_FAILURES_PER_MIN"
    )]
    pub aml_failures_per_min: Option<u32>,
    /// Federation requests (signed envelopes) one source may send per minute (default 600).
    #[arg(
        long = "flood-federation-per-min",
        env = "JIKIMI_FLOOD_FEDERATION_PER_MIN"
    )]
    pub federation_per_min: Option<u32>,
    /// Refusals audited one by one per source and interval; beyond it they are counted in a summary entry
    /// (default 10).
    #[arg(long = "flood-audit-budget", env = "JIKIMI_FLOOD_AUDIT_BUDGET")]
    pub audit_budget: Option<u32>,
    /// Seconds between refusal summary entries (default 10).
    #[arg(long = "flood-audit-interval-s", env = "JIKIMI_FLOOD_AUDIT_INTERVAL_S")]
    pub audit_interval_s: Option<u64>,
    /// Concurrent argon2 checks for logins and enrolments (default 2); one more slot is kept for cancel and
    /// duress PINs.
    #[arg(long = "argon2-slots", env = "JIKIMI_ARGON2_SLOTS")]
    pub argon2_slots: Option<u32>,
    /// Alerts one device may raise at once before further ones join its open incident as counted reports
    /// (default 5).
    #[arg(long = "alert-budget-burst", env = "JIKIMI_ALERT_BUDGET_BURST")]
    pub alert_budget_burst: Option<u32>,
    /// Then one more own incident per this many seconds (default 60).
    #[arg(long = "alert-budget-refill-s", env = "JIKIMI_ALERT_BUDGET_REFILL_S")]
    pub alert_budget_refill_s: Option<u32>,
    /// Reverse proxies (IP addresses, repeat or comma-separate) whose `X-Forwarded-For` names the real client.
    /// Without it every client behind a proxy is one source to the limits. Name only proxies you run: a listed
    /// address can claim any client address.
    #[arg(
        long = "trusted-proxy",
        env = "JIKIMI_TRUSTED_PROXIES",
        value_delimiter = ','
    )]
    #[serde(default)]
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

/// The `[flood]` table of the config file: the same settings as the flags, named as their fields (`login_per_min`
/// for `--flood-login-per-min`, `trusted_proxies` for `--trusted-proxy`).
pub type FloodFile = FloodArgs;

/// The resolved flood-defence settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FloodConfig {
    /// Whether the request limits apply (the audit coalescer, the negative cache and argon2 slots always do).
    pub limits: bool,
    /// Login attempts per source per minute.
    pub login_per_min: u32,
    /// Login attempts per second, all sources.
    pub login_global_per_s: u32,
    /// Unknown device ids per source per second.
    pub device_lookups_per_s: u32,
    /// Unknown device ids per second, all sources.
    pub device_lookups_global_per_s: u32,
    /// Refused AML credentials per source per minute.
    pub aml_failures_per_min: u32,
    /// Federation requests per source per minute.
    pub federation_per_min: u32,
    /// Refusals audited individually per source and interval.
    pub audit_budget: u32,
    /// Seconds between summary entries.
    pub audit_interval_s: u64,
    /// Concurrent argon2 checks besides the reserved one.
    pub argon2_slots: u32,
    /// Own incidents a device may open at once.
    pub alert_budget_burst: u32,
    /// Seconds per further own incident.
    pub alert_budget_refill_s: u32,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<std::net::IpAddr>,
}

impl Default for FloodConfig {
    fn default() -> Self {
        Self {
            limits: true,
            login_per_min: 30,
            login_global_per_s: 20,
            device_lookups_per_s: 20,
            device_lookups_global_per_s: 500,
            aml_failures_per_min: 30,
            federation_per_min: 600,
            audit_budget: 10,
            audit_interval_s: 10,
            argon2_slots: 2,
            alert_budget_burst: 5,
            alert_budget_refill_s: 60,
            trusted_proxies: Vec::new(),
        }
    }
}

impl FloodArgs {
    /// Flags and environment over the file over the defaults; every rate must be at least 1.
    pub fn resolve(&self, file: FloodFile) -> Result<FloodConfig, ConfigError> {
        let d = FloodConfig::default();
        // One setting through the layers: the flag (or its variable), else the file, else the default.
        macro_rules! layered {
            ($field:ident) => {
                self.$field.or(file.$field).unwrap_or(d.$field)
            };
        }
        let positive = |setting: &'static str, value: u32| match value {
            0 => Err(ConfigError::Invalid {
                setting,
                message: "must be at least 1".into(),
            }),
            value => Ok(value),
        };
        let interval = layered!(audit_interval_s);
        if !(1..=3600).contains(&interval) {
            return Err(ConfigError::Invalid {
                setting: "flood-audit-interval-s",
                message: "must be 1..=3600".into(),
            });
        }
        Ok(FloodConfig {
            limits: layered!(limits),
            login_per_min: positive("flood-login-per-min", layered!(login_per_min))?,
            login_global_per_s: positive("flood-login-global-per-s", layered!(login_global_per_s))?,
            device_lookups_per_s: positive(
                "flood-device-lookups-per-s",
                layered!(device_lookups_per_s),
            )?,
            device_lookups_global_per_s: positive(
                "flood-device-lookups-global-per-s",
                layered!(device_lookups_global_per_s),
            )?,
            aml_failures_per_min: positive(
                "flood-aml-failures-per-min",
                layered!(aml_failures_per_min),
            )?,
            federation_per_min: positive("flood-federation-per-min", layered!(federation_per_min))?,
            audit_budget: layered!(audit_budget),
            audit_interval_s: interval,
            argon2_slots: positive("argon2-slots", layered!(argon2_slots))?,
            alert_budget_burst: positive("alert-budget-burst", layered!(alert_budget_burst))?,
            alert_budget_refill_s: positive(
                "alert-budget-refill-s",
                layered!(alert_budget_refill_s),
            )?,
            trusted_proxies: if self.trusted_proxies.is_empty() {
                file.trusted_proxies
            } else {
                self.trusted_proxies.clone()
            },
        })
    }
}
