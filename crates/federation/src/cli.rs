//! The `jikimi` subcommands this crate owns: `agency`, `peer`, `agreement`, `case`, `sync`, `freeze` (in
//! `freeze_cli`) and `federation serve`. Parsing lives here; the binary flattens `Command`, resolves the key material
//! ([`KeyArgs`], as `jikimi serve` does), opens the store the database URL names (the same database
//! `jikimi serve` uses) with the data keys that seal it, and calls `run` with it. `federation serve`
//! is run by the binary with the server crate's federation router (this crate serves no HTTP).
//! Commands that need the node open it on the store; `sync` goes through the node's one loop over
//! peers ([`Node::sync_peers`]).

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use clap::builder::PossibleValue;
use clap::{Args, Subcommand, ValueEnum};
use uuid::Uuid;

use jikimi_exchange::domain::{
    Agency, AgencyId, Agreement, Attachment, CaseCategory, Content, Entity, Event, FieldClass,
    Place,
};
use jikimi_exchange::identifiers::Sha256Hex;
use jikimi_exchange::marking::{HandlingCode, InfoGrade, Marking, SourceGrade, Tlp};
use jikimi_exchange::store::ExchangeStore;
use jikimi_exchange::{Error, Result};

use crate::node::Node;
use crate::transport::{Transport, fetch_agency};

/// Where this node's database lives: the same URL as `jikimi serve --database-url`.
#[derive(Debug, Clone, Args)]
pub struct DbArg {
    /// Database URL: `sqlite://path/to/file.sqlite` (default `sqlite://jikimi.sqlite`) or `postgres://...`.
    #[arg(long = "database-url", env = "JIKIMI_DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// PEM file of private CAs to trust for `https://` partner endpoints (besides the public web roots).
    #[arg(long = "peer-ca", env = "JIKIMI_PEER_CA", global = true)]
    pub peer_ca: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub keys: KeyArgs,
}

/// The operator's key material, given exactly as to `jikimi serve`: the agency signing key and the shared records
/// are sealed with the data keys. The binary resolves these (files are refused if group or others may read them).
#[derive(Debug, Clone, Args)]
pub struct KeyArgs {
    /// TOML configuration file (database URL and key file may be read from it).
    #[arg(long, env = "JIKIMI_CONFIG", global = true)]
    pub config: Option<PathBuf>,
    /// Data-encryption key (32 bytes, hex or base64).
    #[arg(
        long = "data-key",
        env = "JIKIMI_DATA_KEY",
        hide_env_values = true,
        global = true
    )]
    pub data_key: Option<String>,
    /// Identifier of the data-encryption key (default "k1").
    #[arg(long = "data-key-id", env = "JIKIMI_DATA_KEY_ID", global = true)]
    pub data_key_id: Option<String>,
    /// Key for the blind indexes (32 bytes, hex or base64).
    #[arg(
        long = "blind-index-key",
        env = "JIKIMI_BLIND_INDEX_KEY",
        hide_env_values = true,
        global = true
    )]
    pub blind_index_key: Option<String>,
    /// TOML file holding the `[keys]` table (mode 0600).
    #[arg(long = "key-file", env = "JIKIMI_KEY_FILE", global = true)]
    pub key_file: Option<PathBuf>,
}

/// Cooperation subcommands, flattened into the binary's top level.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// This node's agency identity (Ed25519 key).
    Agency {
        #[command(flatten)]
        db: DbArg,
        #[command(subcommand)]
        cmd: AgencyCmd,
    },
    /// Partner agencies (nodes) this node talks to.
    Peer {
        #[command(flatten)]
        db: DbArg,
        #[command(subcommand)]
        cmd: PeerCmd,
    },
    /// Sharing agreements.
    Agreement {
        #[command(flatten)]
        db: DbArg,
        #[command(subcommand)]
        cmd: AgreementCmd,
    },
    /// Cases and leads.
    Case {
        #[command(flatten)]
        db: DbArg,
        #[command(subcommand)]
        cmd: CaseCmd,
    },
    /// Pull everything partners may give us now (all peers, or one).
    Sync {
        #[command(flatten)]
        db: DbArg,
        /// Peer key id (or a prefix of it); default: every peer.
        #[arg(long)]
        peer: Option<String>,
        /// Page size.
        #[arg(long, default_value_t = crate::node::DEFAULT_PAGE)]
        page: u32,
    },
    /// Freeze and confiscation requests: ask the agency with jurisdiction over an account, record a status of a
    /// request sent to us, list them.
    Freeze {
        #[command(flatten)]
        db: DbArg,
        #[command(subcommand)]
        cmd: crate::freeze_cli::FreezeCmd,
    },
    /// Joint operations with partner agencies: create, show, tasks, targets, log, join, leave, export.
    Operation {
        #[command(flatten)]
        db: DbArg,
        #[command(subcommand)]
        cmd: crate::operation_cli::OperationCmd,
    },
    /// Run the federation endpoint alone (partner-facing: signed federation routes only, no staff API).
    Federation {
        #[command(flatten)]
        db: DbArg,
        #[command(subcommand)]
        cmd: FederationCmd,
    },
}

#[derive(Debug, Subcommand)]
pub enum AgencyCmd {
    /// Create this node's identity: a fresh Ed25519 key.
    Init {
        /// The agency's name as partners see it, e.g. `KNPA`.
        #[arg(long)]
        name: String,
        /// ISO 3166-1 alpha-2.
        #[arg(long)]
        country: String,
        /// Public base URL of this node's federation endpoint.
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Print this node's public identity as JSON.
    Show,
}

#[derive(Debug, Subcommand)]
pub enum PeerCmd {
    /// Add or update a peer: by key id, or fetched from its endpoint (pinned by --id if given).
    Add {
        /// The peer's key id (or, with --endpoint, the key id its answer must have).
        #[arg(long)]
        id: Option<String>,
        /// The peer's name (with --id; without it the name is fetched from --endpoint).
        #[arg(long)]
        name: Option<String>,
        /// The peer's country, ISO 3166-1 alpha-2 (with --id).
        #[arg(long)]
        country: Option<String>,
        /// Base URL of the peer's federation endpoint; alone, the peer's identity is fetched from it.
        #[arg(long)]
        endpoint: Option<String>,
    },
    /// Print the peers as JSON.
    List,
}

#[derive(Debug, Subcommand)]
pub enum AgreementCmd {
    /// Create (or, with the same --id on each party's node, mirror) an agreement.
    Create(Box<AgreementArgs>),
    /// Import an agreement from a JSON file (as printed by `create`).
    Import {
        /// The agreement's JSON file.
        file: PathBuf,
    },
    /// Revoke an agreement now: nothing more flows under it, in or out.
    Revoke {
        /// The agreement's id.
        id: Uuid,
    },
    /// Print the agreements as JSON.
    List,
}

/// `agreement create`.
#[derive(Debug, Args)]
pub struct AgreementArgs {
    /// The agreement's id: give each party's node the same one to mirror an agreement (default: a new one).
    #[arg(long)]
    pub id: Option<Uuid>,
    /// A title the parties recognise it by.
    #[arg(long)]
    pub title: String,
    /// Party key ids (this node is added automatically).
    #[arg(long = "party", required = true)]
    pub parties: Vec<String>,
    /// Case categories the agreement covers (repeat for several).
    #[arg(long = "category", required = true, value_enum, ignore_case = true)]
    pub categories: Vec<Choice<CaseCategory>>,
    /// Field classes, comma-separated (summary, person, phone, bank_account, crypto_wallet, website, company, event,
    /// attachment), or `all`, or `non-personal`.
    #[arg(long, default_value = "non-personal")]
    pub fields: String,
    /// The most restrictive TLP a record may carry and still be shared.
    #[arg(long, value_enum, ignore_case = true, default_value = "AMBER")]
    pub max_tlp: Choice<Tlp>,
    /// The least restrictive TLP a shared record is marked with (received records are raised to it).
    #[arg(long, value_enum, ignore_case = true, default_value = "GREEN")]
    pub floor_tlp: Choice<Tlp>,
    /// The least restrictive handling code a shared record is marked with.
    #[arg(long, value_enum, ignore_case = true, default_value = "H0")]
    pub floor_handling: Choice<HandlingCode>,
    /// What the shared records may be used for, as the agreement states it.
    #[arg(long)]
    pub purpose: String,
    /// Days until expiry.
    #[arg(long, default_value_t = 365)]
    pub days: i64,
    /// Start time (RFC 3339); default now.
    #[arg(long)]
    pub valid_from: Option<DateTime<Utc>>,
    /// Recipients may pass records on to parties of agreements that include the originator.
    #[arg(long)]
    pub onward: bool,
    /// Permits freeze and confiscation requests under this legal basis (e.g. the treaty article); without it the
    /// agreement permits none.
    #[arg(long = "freeze-legal-basis")]
    pub freeze_legal_basis: Option<String>,
    /// The kinds of request permitted (freeze, confiscation; repeat; default both).
    #[arg(long = "freeze-kind")]
    pub freeze_kinds: Vec<String>,
    /// Jurisdiction mapping as KEY=AGENCY-KEY-ID, KEY an exchange name or a country code (repeat).
    #[arg(long = "freeze-jurisdiction")]
    pub freeze_jurisdictions: Vec<String>,
}

/// The content and marks of a case or lead.
#[derive(Debug, Args)]
pub struct ContentArgs {
    /// Title.
    #[arg(long)]
    pub title: Option<String>,
    /// Summary (free text; travels as the `summary` field class).
    #[arg(long)]
    pub summary: Option<String>,
    /// Entities as kind=value: person=, phone=, account=, iban=, wallet=, website=, company=.
    #[arg(long = "entity")]
    pub entities: Vec<String>,
    /// Region for national-format phone numbers (e.g. KR).
    #[arg(long)]
    pub region: Option<String>,
    /// Events as `RFC3339|place|description`.
    #[arg(long = "event")]
    pub events: Vec<String>,
    /// Attachments as `sha256:media-type:size`.
    #[arg(long = "attachment")]
    pub attachments: Vec<String>,
    /// Traffic Light Protocol mark.
    #[arg(long, value_enum, ignore_case = true, default_value = "AMBER")]
    pub tlp: Choice<Tlp>,
    /// Handling code.
    #[arg(long, value_enum, ignore_case = true, default_value = "H0")]
    pub handling: Choice<HandlingCode>,
    /// Source reliability grade.
    #[arg(long, value_enum, ignore_case = true, default_value = "X")]
    pub source: Choice<SourceGrade>,
    /// Information credibility grade: 1 known to be true, 2 known to the source, 3 not known to the source but
    /// corroborated, 4 cannot be judged.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u8).range(1..=4))]
    pub information: u8,
}

#[derive(Debug, Subcommand)]
pub enum CaseCmd {
    /// Open a case owned by this agency.
    Create {
        /// The case's category.
        #[arg(long, value_enum, ignore_case = true)]
        category: Choice<CaseCategory>,
        #[command(flatten)]
        content: Box<ContentArgs>,
    },
    /// Add a lead to a case (ours or a partner's).
    Lead {
        /// The case's id.
        #[arg(long)]
        case: Uuid,
        #[command(flatten)]
        content: Box<ContentArgs>,
    },
    /// List records held here (JSON lines).
    List,
    /// Withdraw a record we own, here and at every recipient.
    Withdraw {
        /// The record's id.
        id: Uuid,
        /// Why, as recipients see it.
        #[arg(long, default_value = "withdrawn by owner")]
        reason: String,
    },
    /// Narrow a record we own: drop field classes, tighten marks.
    Restrict {
        /// The record's id.
        id: Uuid,
        /// Field classes to remove, comma-separated (as `agreement create --fields`).
        #[arg(long, default_value = "")]
        remove: String,
        /// TLP to raise the record to (marks only ever tighten: a lower one changes nothing).
        #[arg(long, value_enum, ignore_case = true, default_value = "CLEAR")]
        tlp: Choice<Tlp>,
        /// Handling code to raise the record to.
        #[arg(long, value_enum, ignore_case = true, default_value = "H0")]
        handling: Choice<HandlingCode>,
    },
    /// Export a case with its leads as a STIX 2.1 bundle (stdout or --out).
    ExportStix {
        /// The case's id.
        id: Uuid,
        /// Write the bundle to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Import a STIX 2.1 bundle as a new case owned here.
    ImportStix {
        /// The bundle's JSON file.
        file: PathBuf,
        /// The new case's category.
        #[arg(long, value_enum, ignore_case = true, default_value = "scam")]
        category: Choice<CaseCategory>,
    },
    /// Export a case as a court bundle (refused for H1-H3 records from other agencies).
    CourtBundle {
        /// The case's id.
        id: Uuid,
        /// Write the bundle to this file instead of stdout.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

#[derive(Debug, Subcommand)]
pub enum FederationCmd {
    /// Serve the federation routes (`/federation/v1/*`) alone on a partner-facing listener.
    Serve {
        /// Address to listen on (partner-facing).
        #[arg(long, default_value = "127.0.0.1:8700")]
        listen: String,
        /// Also pull from every peer this often (seconds; 0 = only on push notification).
        #[arg(long, default_value_t = 0)]
        sync_interval_s: u64,
        /// Page size when this node pulls.
        #[arg(long, default_value_t = crate::node::DEFAULT_PAGE)]
        page: u32,
    },
}

pub(crate) fn print_json<T: serde::Serialize>(v: &T) -> Result<()> {
    print_line(&serde_json::to_string_pretty(v).map_err(Error::Encoding)?)
}

/// Writes a line to stdout; a closed pipe (`| head`) ends output quietly instead of panicking.
pub(crate) fn print_line(text: &str) -> Result<()> {
    use std::io::Write as _;
    match writeln!(std::io::stdout().lock(), "{text}") {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(Error::Io {
            path: "stdout".into(),
            source: e,
        }),
        _ => Ok(()),
    }
}

pub(crate) fn io_err(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io {
        path: path.display().to_string(),
        source,
    }
}

impl Command {
    /// The database URL given on the command line or in the environment, if any.
    pub fn database_url(&self) -> Option<&str> {
        self.db().database_url.as_deref()
    }

    /// The key material flags and environment.
    pub fn keys(&self) -> &KeyArgs {
        &self.db().keys
    }

    fn db(&self) -> &DbArg {
        match self {
            Command::Agency { db, .. }
            | Command::Peer { db, .. }
            | Command::Agreement { db, .. }
            | Command::Case { db, .. }
            | Command::Sync { db, .. }
            | Command::Freeze { db, .. }
            | Command::Operation { db, .. }
            | Command::Federation { db, .. } => db,
        }
    }

    /// How this command reaches partners (`--peer-ca`).
    pub fn transport(&self) -> Result<Transport> {
        match &self.db().peer_ca {
            Some(path) => Transport::with_ca_file(path),
            None => Ok(Transport::default()),
        }
    }
}

/// Runs one cooperation subcommand to completion on `store` (the binary opens and migrates it).
pub async fn run(cmd: Command, store: Arc<dyn ExchangeStore>) -> Result<()> {
    let transport = cmd.transport()?;
    match cmd {
        Command::Agency { cmd, .. } => match cmd {
            AgencyCmd::Init {
                name,
                country,
                endpoint,
            } => {
                if store.identity().await?.is_some() {
                    return Err(Error::invalid(
                        "agency",
                        "this node already has an identity",
                    ));
                }
                let agency =
                    crate::node::create_identity(store.as_ref(), name, &country, endpoint).await?;
                print_json(&agency)
            }
            AgencyCmd::Show => {
                let (agency, _) = store.identity().await?.ok_or(Error::NoIdentity)?;
                print_json(&agency)
            }
        },
        Command::Peer { cmd, .. } => match cmd {
            PeerCmd::Add {
                id,
                name,
                country,
                endpoint,
            } => {
                let fetched = match (&endpoint, &name) {
                    (Some(url), None) => Some(fetch_agency(url, &transport).await?),
                    _ => None,
                };
                let agency = match fetched {
                    Some(mut a) => {
                        if let Some(pin) = &id
                            && AgencyId::parse(pin)? != a.id
                        {
                            return Err(Error::Denied(
                                "the endpoint's key does not match --id".into(),
                            ));
                        }
                        a.endpoint = endpoint.clone();
                        a
                    }
                    None => Agency {
                        id: AgencyId::parse(
                            id.as_deref()
                                .ok_or_else(|| Error::invalid("peer", "give --id or --endpoint"))?,
                        )?,
                        name: name.unwrap_or_else(|| "peer".into()),
                        country: country.unwrap_or_default().to_ascii_uppercase(),
                        endpoint,
                    },
                };
                store.upsert_peer(&agency).await?;
                print_json(&agency)
            }
            PeerCmd::List => print_json(&store.peers().await?),
        },
        Command::Agreement { cmd, .. } => match cmd {
            AgreementCmd::Create(args) => {
                let (me, _) = store.identity().await?.ok_or(Error::NoIdentity)?;
                let agreement = agreement_from_args(*args, &me.id, Utc::now())?;
                store.put_agreement(&agreement).await?;
                print_json(&agreement)
            }
            AgreementCmd::Import { file } => {
                let text = std::fs::read_to_string(&file).map_err(io_err(&file))?;
                let agreement: Agreement = serde_json::from_str(&text).map_err(Error::Encoding)?;
                agreement.validate()?;
                store.put_agreement(&agreement).await?;
                print_json(&agreement)
            }
            AgreementCmd::Revoke { id } => {
                let mut a = store
                    .agreements()
                    .await?
                    .into_iter()
                    .find(|a| a.id == id)
                    .ok_or_else(|| Error::not_found("agreement", id))?;
                a.revoked_at = Some(Utc::now());
                store.put_agreement(&a).await?;
                print_json(&a)
            }
            AgreementCmd::List => print_json(&store.agreements().await?),
        },
        Command::Freeze { cmd, .. } => {
            let node = Node::open_with(store, &transport).await?;
            crate::freeze_cli::run(&node, cmd).await
        }
        Command::Case { cmd, .. } => {
            let node = Node::open_with(store, &transport).await?;
            run_case(&node, cmd).await
        }
        Command::Operation { cmd, .. } => {
            let node = Node::open_with(store, &transport).await?;
            crate::operation_cli::run(&node, cmd).await
        }
        Command::Sync { peer, page, .. } => {
            let mut node = Node::open_with(store, &transport).await?;
            node.page_limit = page;
            let results = node
                .sync_peers(|p| peer.as_deref().is_none_or(|x| p.id.as_str().starts_with(x)))
                .await?;
            let mut failed = false;
            for (p, r) in results {
                match r {
                    Ok(stats) => print_line(
                        &serde_json::json!({ "peer": p.name, "stats": stats }).to_string(),
                    )?,
                    Err(e) => {
                        failed = true;
                        eprintln!("sync with {} failed: {e}", p.name);
                    }
                }
            }
            if failed {
                return Err(Error::Transport {
                    peer: "some peers".into(),
                    reason: "sync incomplete".into(),
                });
            }
            Ok(())
        }
        // The binary serves this itself, with the server crate's federation router.
        Command::Federation { .. } => Err(Error::invalid(
            "command",
            "federation serve is run by the jikimi binary",
        )),
    }
}

/// Parses `all`, `non-personal` or a comma-separated list of field classes.
pub fn parse_fields(s: &str) -> Result<BTreeSet<FieldClass>> {
    match s.trim() {
        "all" => Ok(FieldClass::ALL.into_iter().collect()),
        "non-personal" => Ok(FieldClass::all_non_personal()),
        "" => Ok(BTreeSet::new()),
        list => list.split(',').map(|f| f.trim().parse()).collect(),
    }
}

/// Builds an agreement from command-line arguments (this node is always a party).
pub fn agreement_from_args(
    args: AgreementArgs,
    me: &AgencyId,
    now: DateTime<Utc>,
) -> Result<Agreement> {
    let mut parties: BTreeSet<AgencyId> = args
        .parties
        .iter()
        .map(|p| AgencyId::parse(p))
        .collect::<Result<_>>()?;
    parties.insert(me.clone());
    let valid_from = args.valid_from.unwrap_or(now);
    let a = Agreement {
        id: args.id.unwrap_or_else(Uuid::now_v7),
        title: args.title,
        parties,
        categories: args.categories.iter().map(|c| c.0).collect(),
        fields: parse_fields(&args.fields)?,
        max_tlp: args.max_tlp.0,
        floor: Marking {
            tlp: args.floor_tlp.0,
            handling: args.floor_handling.0,
            source: SourceGrade::A,
            information: InfoGrade::One,
        },
        purpose: args.purpose,
        valid_from,
        expires_at: valid_from + Duration::days(args.days),
        onward_sharing: args.onward,
        revoked_at: None,
        freeze: crate::freeze_cli::terms_from_args(
            args.freeze_legal_basis,
            &args.freeze_kinds,
            &args.freeze_jurisdictions,
        )?,
    };
    a.validate()?;
    Ok(a)
}

fn marking_from(c: &ContentArgs) -> Result<Marking> {
    Ok(Marking {
        tlp: c.tlp.0,
        handling: c.handling.0,
        source: c.source.0,
        information: InfoGrade::try_from(c.information)?,
    })
}

/// Builds validated content from command-line arguments.
pub fn content_from(c: &ContentArgs) -> Result<Content> {
    let entities = c
        .entities
        .iter()
        .map(|e| Entity::parse_spec(e, c.region.as_deref()))
        .collect::<Result<Vec<_>>>()?;
    let events = c
        .events
        .iter()
        .map(|e| {
            let mut parts = e.splitn(3, '|');
            let at: DateTime<Utc> = parts.next().unwrap_or_default().parse().map_err(|_| {
                Error::invalid("event", "time must be RFC 3339, e.g. 2025-03-01T12:00:00Z")
            })?;
            let place = parts.next().filter(|p| !p.is_empty()).map(|p| Place {
                name: Some(p.to_string()),
                lat: None,
                lon: None,
                country: None,
            });
            Ok(Event {
                id: Uuid::new_v4(),
                at,
                place,
                description: parts.next().unwrap_or_default().to_string(),
            })
        })
        .collect::<Result<Vec<_>>>()?;
    let attachments = c
        .attachments
        .iter()
        .map(|a| {
            let mut parts = a.splitn(3, ':');
            let sha256 = Sha256Hex::parse(parts.next().unwrap_or_default())?;
            let media_type = parts
                .next()
                .unwrap_or("application/octet-stream")
                .to_string();
            let size_bytes = parts
                .next()
                .unwrap_or("0")
                .parse()
                .map_err(|_| Error::invalid("attachment", "size must be a number"))?;
            Ok(Attachment {
                sha256,
                media_type,
                size_bytes,
                name: None,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Content {
        title: c.title.clone().unwrap_or_default(),
        summary: c.summary.clone(),
        entities,
        events,
        attachments,
    })
}

async fn run_case(node: &Node, cmd: CaseCmd) -> Result<()> {
    let now = Utc::now();
    match cmd {
        CaseCmd::Create { category, content } => {
            let rec = node
                .create_case(
                    category.0,
                    marking_from(&content)?,
                    content_from(&content)?,
                    now,
                )
                .await?;
            print_json(&rec)?;
            node.notify_peers().await?;
            Ok(())
        }
        CaseCmd::Lead { case, content } => {
            let rec = node
                .add_lead(case, marking_from(&content)?, content_from(&content)?, now)
                .await?;
            print_json(&rec)?;
            node.notify_peers().await?;
            Ok(())
        }
        CaseCmd::List => {
            for s in node.store.records().await? {
                print_line(&serde_json::to_string(&s.record).map_err(Error::Encoding)?)?;
            }
            Ok(())
        }
        CaseCmd::Withdraw { id, reason } => {
            print_json(&node.withdraw(id, &reason, now).await?)?;
            node.notify_peers().await?;
            Ok(())
        }
        CaseCmd::Restrict {
            id,
            remove,
            tlp,
            handling,
        } => {
            let marking = Marking {
                tlp: tlp.0,
                handling: handling.0,
                source: SourceGrade::A,
                information: InfoGrade::One,
            };
            print_json(
                &node
                    .restrict(id, parse_fields(&remove)?, marking, now)
                    .await?,
            )?;
            node.notify_peers().await?;
            Ok(())
        }
        CaseCmd::ExportStix { id, out } => {
            let bundle = node.export_stix(id, now).await?;
            let text = serde_json::to_string_pretty(&bundle).map_err(Error::Encoding)?;
            write_out(out, &text)
        }
        CaseCmd::ImportStix { file, category } => {
            let text = std::fs::read_to_string(&file).map_err(io_err(&file))?;
            let bundle: serde_json::Value = serde_json::from_str(&text).map_err(Error::Encoding)?;
            let content = jikimi_exchange::stix::import_bundle(&bundle)?;
            let rec = node
                .create_case(category.0, Marking::default(), content, now)
                .await?;
            print_json(&rec)
        }
        CaseCmd::CourtBundle { id, out } => {
            let bundle = node.court_bundle(id).await?;
            let text = serde_json::to_string_pretty(&bundle).map_err(Error::Encoding)?;
            write_out(out, &text)
        }
    }
}

fn write_out(out: Option<PathBuf>, text: &str) -> Result<()> {
    match out {
        Some(p) => std::fs::write(&p, text).map_err(io_err(&p)),
        None => print_line(text),
    }
}

/// A core enum offered on the command line as a [`ValueEnum`], so that `--help` lists its values and clap refuses
/// others as a usage error. A wrapper because the core crate knows no command-line crate (and the orphan rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Choice<T>(pub T);

/// How the values of a core enum are typed on the command line.
pub trait Choices: Copy + Send + Sync + 'static {
    /// Every value, in the order `--help` lists them.
    const CHOICES: &'static [Choice<Self>];
    /// The value's name, the other spellings accepted (as the core's `FromStr` accepts them) and a help line.
    fn possible_value(self) -> PossibleValue;
}

impl<T: Choices> ValueEnum for Choice<T> {
    fn value_variants<'a>() -> &'a [Self] {
        T::CHOICES
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(self.0.possible_value())
    }
}

impl Choices for Tlp {
    const CHOICES: &'static [Choice<Self>] = &[
        Choice(Tlp::Clear),
        Choice(Tlp::Green),
        Choice(Tlp::Amber),
        Choice(Tlp::AmberStrict),
        Choice(Tlp::Red),
    ];

    fn possible_value(self) -> PossibleValue {
        let label = self.label();
        let name = label.strip_prefix("TLP:").unwrap_or(label);
        let value = PossibleValue::new(name).alias(label);
        match self {
            Tlp::Clear => value
                .aliases(["WHITE", "TLP:WHITE"])
                .help("no limit on disclosure"),
            Tlp::Green => value.help("within the community, not publicly"),
            Tlp::Amber => {
                value.help("within the recipient organisation and its clients, need to know")
            }
            Tlp::AmberStrict => value
                .aliases(["AMBER-STRICT", "TLP:AMBER-STRICT"])
                .help("within the recipient organisation only"),
            Tlp::Red => value.help("the named recipients only"),
        }
    }
}

impl Choices for HandlingCode {
    const CHOICES: &'static [Choice<Self>] = &[
        Choice(HandlingCode::H0),
        Choice(HandlingCode::H1),
        Choice(HandlingCode::H2),
        Choice(HandlingCode::H3),
    ];

    fn possible_value(self) -> PossibleValue {
        match self {
            HandlingCode::H0 => PossibleValue::new("H0").help("no restriction on use"),
            HandlingCode::H1 => {
                PossibleValue::new("H1").help("not in court without the provider's permission")
            }
            HandlingCode::H2 => {
                PossibleValue::new("H2").help("not passed on without the provider's permission")
            }
            HandlingCode::H3 => {
                PossibleValue::new("H3").help("other restrictions set by the provider")
            }
        }
    }
}

impl Choices for SourceGrade {
    const CHOICES: &'static [Choice<Self>] = &[
        Choice(SourceGrade::A),
        Choice(SourceGrade::B),
        Choice(SourceGrade::C),
        Choice(SourceGrade::X),
    ];

    fn possible_value(self) -> PossibleValue {
        match self {
            SourceGrade::A => PossibleValue::new("A").help("completely reliable"),
            SourceGrade::B => PossibleValue::new("B").help("usually reliable"),
            SourceGrade::C => PossibleValue::new("C").help("fairly reliable"),
            SourceGrade::X => PossibleValue::new("X").help("cannot be judged"),
        }
    }
}

impl Choices for CaseCategory {
    const CHOICES: &'static [Choice<Self>] = &[
        Choice(CaseCategory::Scam),
        Choice(CaseCategory::HumanTrafficking),
        Choice(CaseCategory::MoneyLaundering),
        Choice(CaseCategory::Csam),
        Choice(CaseCategory::Drugs),
        Choice(CaseCategory::Cybercrime),
        Choice(CaseCategory::Other),
    ];

    fn possible_value(self) -> PossibleValue {
        match self {
            CaseCategory::Scam => PossibleValue::new("scam"),
            CaseCategory::HumanTrafficking => {
                PossibleValue::new("human_trafficking").alias("human-trafficking")
            }
            CaseCategory::MoneyLaundering => {
                PossibleValue::new("money_laundering").alias("money-laundering")
            }
            CaseCategory::Csam => PossibleValue::new("csam").help("child sexual abuse material"),
            CaseCategory::Drugs => PossibleValue::new("drugs"),
            CaseCategory::Cybercrime => PossibleValue::new("cybercrime"),
            CaseCategory::Other => PossibleValue::new("other"),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// Every spelling the core's `FromStr` takes is taken on the command line too, for the same value.
    #[test]
    fn choices_accept_what_the_core_parses() {
        fn check<T: Choices + std::str::FromStr + PartialEq + std::fmt::Debug>(inputs: &[&str]) {
            for input in inputs {
                let ours = Choice::<T>::from_str(input, true).unwrap().0;
                assert_eq!(Ok(ours), input.parse::<T>().map_err(|_| ()), "{input}");
            }
        }
        check::<Tlp>(&[
            "clear",
            "WHITE",
            "tlp:white",
            "GREEN",
            "Amber",
            "AMBER+STRICT",
            "amber-strict",
            "TLP:AMBER+STRICT",
            "RED",
            "TLP:RED",
        ]);
        check::<HandlingCode>(&["H0", "h1", "H2", "h3"]);
        check::<CaseCategory>(&[
            "scam",
            "human_trafficking",
            "Human-Trafficking",
            "money-laundering",
            "csam",
            "drugs",
            "cybercrime",
            "OTHER",
        ]);
        // Every value has a name the core parses back to it.
        for choice in <Choice<Tlp> as ValueEnum>::value_variants() {
            let name = choice.to_possible_value().unwrap().get_name().to_string();
            assert_eq!(name.parse::<Tlp>().unwrap(), choice.0);
        }
    }
}
