//! `jikimi bench funds`: generates a synthetic network, traces it with both policies as separate processes of
//! this binary (so each run's peak memory and CPU time are its own), runs the independent Python implementation
//! on the same files, and checks that the outputs are identical byte for byte. Each run reports wall time, CPU
//! time (user and system, which other work on a shared machine disturbs far less) and peak resident memory.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use crate::Error;
use crate::synthetic::{SyntheticParams, generate};
use crate::trace::Policy;

/// Benchmark sizes and tools.
#[derive(Debug, Clone, clap::Args)]
pub struct BenchArgs {
    /// Transfers to generate.
    #[arg(long, default_value_t = 10_000_000)]
    pub transfers: u64,
    /// Accounts in the network.
    #[arg(long, default_value_t = 1_000_000)]
    pub accounts: u64,
    /// Random seed of the generator.
    #[arg(long, default_value_t = 22)]
    pub seed: u64,
    /// Directory for the generated files and outputs (default: a temporary directory, removed after).
    #[arg(long)]
    pub dir: Option<PathBuf>,
    /// Memory budget of the sort, MiB (passed to `trace funds --memory-mb`).
    #[arg(long, default_value_t = 512)]
    pub memory_mb: usize,
    /// The Python cross-check script.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/taint_check.py"))]
    pub python_script: PathBuf,
    /// Python interpreter.
    #[arg(long, default_value = "python3")]
    pub python: String,
    /// Skip the Python runs.
    #[arg(long)]
    pub no_python: bool,
    /// Print the results as one JSON object on stdout at the end (the progress lines go to stderr).
    #[arg(long)]
    pub json: bool,
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::io(path.display().to_string(), e)
}

/// CPU seconds (user and system) used by this process's waited-for children so far, from `/proc/self/stat`
/// (Linux; `None` elsewhere). The machine is shared, so wall time says little; CPU time says what a run cost.
fn children_cpu_s() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the command name (which may hold spaces) start with field 3; cutime and cstime are 16, 17.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |n: usize| fields.get(n - 3)?.parse::<f64>().ok();
    // Linux reports these in USER_HZ, which is 100 on every architecture it runs on.
    Some((ticks(16)? + ticks(17)?) / 100.0)
}

/// A child's wall seconds, CPU seconds (if known) and stdout.
struct Timed {
    wall_s: f64,
    cpu_s: Option<f64>,
    stdout: String,
}

fn run_timed(mut cmd: Command) -> Result<Timed, Error> {
    let cpu_before = children_cpu_s();
    let started = Instant::now();
    let out = cmd.output().map_err(|e| Error::io(format!("{cmd:?}"), e))?;
    let secs = started.elapsed().as_secs_f64();
    let cpu_s = cpu_before.zip(children_cpu_s()).map(|(a, b)| b - a);
    if !out.status.success() {
        return Err(Error::Invalid(format!(
            "{cmd:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(Timed {
        wall_s: secs,
        cpu_s,
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
    })
}

fn peak_from_json(stdout: &str) -> Option<f64> {
    let v: serde_json::Value = serde_json::from_str(stdout.trim()).ok()?;
    v.get("peak_rss_mb")?.as_f64()
}

fn cpu_text(cpu_s: Option<f64>) -> String {
    cpu_s.map_or("?".into(), |c| format!("{c:.2}"))
}

/// Runs the benchmark and prints one line per run (on stderr with `--json`, which prints one JSON object at the end).
pub fn run_bench(args: &BenchArgs) -> Result<(), Error> {
    let say = |line: String| {
        if args.json {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    };
    let mut runs = Vec::new();
    let tmp;
    let dir = match &args.dir {
        Some(d) => {
            std::fs::create_dir_all(d).map_err(io(d))?;
            d.clone()
        }
        None => {
            tmp = tempfile::tempdir().map_err(|e| Error::io("temporary directory", e))?;
            tmp.path().to_path_buf()
        }
    };
    let transfers = dir.join("transfers.csv");
    let seeds = dir.join("seeds.txt");
    let cashout = dir.join("cashout.csv");
    let started = Instant::now();
    let summary = {
        let mut t = std::io::BufWriter::with_capacity(
            1 << 20,
            std::fs::File::create(&transfers).map_err(io(&transfers))?,
        );
        let mut s = std::io::BufWriter::new(std::fs::File::create(&seeds).map_err(io(&seeds))?);
        let mut c = std::io::BufWriter::new(std::fs::File::create(&cashout).map_err(io(&cashout))?);
        let params = SyntheticParams {
            transfers: args.transfers,
            accounts: args.accounts,
            seed: args.seed,
        };
        let summary = generate(&params, &mut t, &mut s, &mut c).map_err(io(&transfers))?;
        use std::io::Write;
        t.flush().map_err(io(&transfers))?;
        s.flush().map_err(io(&seeds))?;
        c.flush().map_err(io(&cashout))?;
        summary
    };
    let size_mb = std::fs::metadata(&transfers)
        .map(|m| m.len() as f64 / 1e6)
        .unwrap_or(0.0);
    let generate_s = started.elapsed().as_secs_f64();
    say(format!(
        "generated {} transfers over {} accounts ({} seeds, {} cash-out points), {size_mb:.0} MB, in {generate_s:.1} s",
        summary.transfers, summary.accounts, summary.seed_transfers, summary.cashout_points,
    ));
    let exe = std::env::current_exe().map_err(|e| Error::io("current executable", e))?;
    for policy in [Policy::Haircut, Policy::Fifo] {
        let name = match policy {
            Policy::Haircut => "haircut",
            Policy::Fifo => "fifo",
        };
        let rust_out = dir.join(format!("taint-{name}-rust.csv"));
        let mut cmd = Command::new(&exe);
        cmd.args(["trace", "funds", "--json", "--policy", name])
            .arg("--transactions")
            .arg(&transfers)
            .arg("--seeds")
            .arg(&seeds)
            .arg("--cashout")
            .arg(&cashout)
            .arg("--out")
            .arg(&rust_out)
            .arg("--memory-mb")
            .arg(args.memory_mb.to_string());
        let rust = run_timed(cmd)?;
        let rust_s = rust.wall_s;
        let rust_peak = peak_from_json(&rust.stdout);
        say(format!(
            "{name:>8} rust:   {rust_s:>7.2} s wall, {} s CPU, {:>9.0} transfers/s, peak {} MiB",
            cpu_text(rust.cpu_s),
            summary.transfers as f64 / rust_s,
            rust_peak.map_or("?".into(), |p| format!("{p:.0}"))
        ));
        let mut run = serde_json::json!({
            "policy": name,
            "rust_s": rust_s,
            "rust_cpu_s": rust.cpu_s,
            "rust_transfers_per_s": summary.transfers as f64 / rust_s,
            "rust_peak_mib": rust_peak,
        });
        if args.no_python {
            runs.push(run);
            continue;
        }
        let py_out = dir.join(format!("taint-{name}-python.csv"));
        let mut cmd = Command::new(&args.python);
        cmd.arg(&args.python_script)
            .arg("--transactions")
            .arg(&transfers)
            .arg("--seeds")
            .arg(&seeds)
            .args(["--policy", name, "--decimals", "2"])
            .arg("--out")
            .arg(&py_out);
        let python = run_timed(cmd)?;
        let py_s = python.wall_s;
        let py_peak = peak_from_json(&python.stdout);
        let same = std::fs::read(&rust_out).map_err(io(&rust_out))?
            == std::fs::read(&py_out).map_err(io(&py_out))?;
        say(format!(
            "{name:>8} python: {py_s:>7.2} s wall, {} s CPU, {:>9.0} transfers/s, peak {} MiB; python/rust {:.1}x; outputs identical: {same}",
            cpu_text(python.cpu_s),
            summary.transfers as f64 / py_s,
            py_peak.map_or("?".into(), |p| format!("{p:.0}")),
            py_s / rust_s
        ));
        run["python_s"] = serde_json::json!(py_s);
        run["python_cpu_s"] = serde_json::json!(python.cpu_s);
        run["python_peak_mib"] = serde_json::json!(py_peak);
        run["outputs_identical"] = serde_json::json!(same);
        runs.push(run);
        if !same {
            return Err(Error::Invalid(format!(
                "{name}: rust and python outputs differ ({} vs {})",
                rust_out.display(),
                py_out.display()
            )));
        }
    }
    if args.json {
        let report = serde_json::json!({
            "transfers": summary.transfers,
            "accounts": summary.accounts,
            "seed_transfers": summary.seed_transfers,
            "cashout_points": summary.cashout_points,
            "file_mb": size_mb,
            "generate_s": generate_s,
            "runs": runs,
        });
        println!("{report}");
    }
    Ok(())
}
