//! Starting `jikimi` subcommands as child processes in a temporary directory, with generated keys.

use std::ffi::OsStr;
use std::io::{BufRead as _, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use jikimi_server::config::KeyMaterial;
use rustix::process::{Pid, Signal, WaitOptions, kill_process, waitpid};

pub const ADMIN_PASSWORD: &str = "crash-test-password";

/// This tree's `jikimi` binary, built by cargo for the tests.
const JIKIMI: &str = env!("CARGO_BIN_EXE_jikimi");

/// A data directory with a key file and a SQLite database URL.
pub struct Site {
    pub dir: tempfile::TempDir,
    pub database_url: String,
    /// The `serve` processes this site started: a test that panics is not there to stop them ([`Site`]'s `Drop`).
    started: std::sync::Mutex<Vec<Pid>>,
}

/// A test that panics leaves the servers it started running (holding ports and memory until the whole run ends):
/// when a site is dropped while its thread unwinds, every `serve` it started that the test has not reaped is
/// killed and reaped. Only unreaped children are touched: until it is reaped a child's PID cannot be reused, so no
/// other process is ever signalled. A test that ends normally stops its own servers, as before.
impl Drop for Site {
    fn drop(&mut self) {
        let started = match self.started.lock() {
            Ok(started) if std::thread::panicking() => started.clone(),
            _ => Vec::new(),
        };
        for pid in started {
            // `Ok(None)`: still running, and ours (not reaped). Reaped already: an error (ECHILD); exited: reaped
            // now.
            if let Ok(None) = waitpid(Some(pid), WaitOptions::NOHANG) {
                let _ = kill_process(pid, Signal::KILL);
                let _ = waitpid(Some(pid), WaitOptions::empty());
            }
        }
    }
}

impl Site {
    pub fn new() -> Site {
        let dir = tempfile::tempdir().expect("temp dir");
        jikimi_server::keyfile::write_key_file(
            &dir.path().join("keys.toml"),
            &KeyMaterial::generate(),
        )
        .expect("key file");
        let database_url = format!("sqlite://{}", dir.path().join("jikimi.sqlite").display());
        Site {
            dir,
            database_url,
            started: std::sync::Mutex::default(),
        }
    }

    /// The data keyring of this site's key file (to open its database as the processes do).
    pub fn keyring(&self) -> jikimi_privacy::Keyring {
        jikimi_server::ConfigArgs {
            key_file: Some(self.dir.path().join("keys.toml")),
            ..Default::default()
        }
        .resolve(true)
        .expect("site keys")
        .keys
        .expect("site keys")
        .keyring()
        .expect("keyring")
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.path().join("jikimi.sqlite")
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(JIKIMI);
        command
            .args(args)
            .env("JIKIMI_DATABASE_URL", &self.database_url)
            .env("JIKIMI_KEY_FILE", self.dir.path().join("keys.toml"))
            .env("RUST_LOG", "warn")
            .current_dir(self.dir.path());
        command
    }

    /// Runs a subcommand to completion; returns (success, stdout + stderr).
    pub fn run(&self, args: &[&str], envs: &[(&str, &str)]) -> (bool, String) {
        let mut command = self.command(args);
        for (k, v) in envs {
            command.env(k, v);
        }
        let output = command.output().expect("run jikimi");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        (output.status.success(), text)
    }

    pub fn add_admin(&self) {
        let (ok, text) = self.run(
            &["staff", "add", "--username", "admin", "--role", "admin"],
            &[("JIKIMI_STAFF_PASSWORD", ADMIN_PASSWORD)],
        );
        assert!(ok, "staff add failed: {text}");
    }

    /// Starts `jikimi serve` on a free port; returns the child and its base URL (read from its first stdout line).
    pub fn serve(&self) -> (Child, String) {
        self.serve_with(&[])
    }

    /// As [`Site::serve`], with extra environment variables.
    pub fn serve_with(&self, envs: &[(&str, &str)]) -> (Child, String) {
        self.serve_as(&[JIKIMI.as_ref()], "127.0.0.1:0", envs)
    }

    /// As [`Site::serve_with`], listening on `listen` and started through `wrapper` (a program and its arguments
    /// that run the rest of the command line, such as `ip netns exec NAME`).
    pub fn serve_wrapped(
        &self,
        wrapper: &[&str],
        listen: &str,
        envs: &[(&str, &str)],
    ) -> (Child, String) {
        let mut argv: Vec<&OsStr> = wrapper.iter().map(OsStr::new).collect();
        argv.push(JIKIMI.as_ref());
        self.serve_as(&argv, listen, envs)
    }

    /// As [`Site::serve_with`], running the binary at `program` instead of this tree's (another release's).
    pub fn serve_binary(&self, program: &Path, envs: &[(&str, &str)]) -> (Child, String) {
        self.serve_as(&[program.as_os_str()], "127.0.0.1:0", envs)
    }

    /// `jikimi serve --listen LISTEN` with this site's environment and `envs`, as the command line `argv` (whose
    /// last words name the binary) followed by the serve arguments.
    fn serve_as(&self, argv: &[&OsStr], listen: &str, envs: &[(&str, &str)]) -> (Child, String) {
        let site = self.command(&["serve", "--listen", listen]);
        let (program, leading) = argv.split_first().expect("a program");
        let mut command = Command::new(program);
        command
            .args(leading)
            .args(site.get_args())
            .current_dir(self.dir.path());
        for (k, v) in site.get_envs() {
            if let Some(v) = v {
                command.env(k, v);
            }
        }
        for (k, v) in envs {
            command.env(k, v);
        }
        self.spawn_serve(command)
    }

    fn spawn_serve(&self, mut command: Command) -> (Child, String) {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn jikimi serve");
        if let (Ok(mut started), Some(pid)) = (self.started.lock(), pid_of(&child)) {
            started.push(pid);
        }
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut lines = BufReader::new(stdout).lines();
            if let Some(Ok(line)) = lines.next() {
                let _ = tx.send(line);
            }
            // Keep draining so the child never blocks on a full pipe.
            for _ in lines {}
        });
        let line = rx
            .recv_timeout(Duration::from_secs(60))
            .expect("jikimi serve printed its address");
        let url = line
            .split_whitespace()
            .find(|w| w.starts_with("http://") || w.starts_with("https://"))
            .expect("address in the first line")
            .to_string();
        (child, url)
    }
}

/// A child's PID as the system calls take it.
pub fn pid_of(child: &Child) -> Option<Pid> {
    i32::try_from(child.id()).ok().and_then(Pid::from_raw)
}

pub fn exists(path: &Path) -> bool {
    path.exists()
}

/// A test that panics with a server running leaves no server behind: its site ends it while unwinding.
#[test]
fn a_panicking_test_leaves_no_server_running() {
    let (tx, rx) = std::sync::mpsc::channel();
    let unwound = std::thread::spawn(move || {
        let site = Site::new();
        let (child, _url) = site.serve();
        tx.send(pid_of(&child).expect("a pid")).expect("pid sent");
        panic!("a failing test, its server still running");
    })
    .join();
    assert!(unwound.is_err(), "the thread panicked");
    let pid = rx.recv().expect("pid");
    // Reaped by the site: no such child of ours any more (a server still running would be one).
    assert_eq!(
        waitpid(Some(pid), WaitOptions::NOHANG).err(),
        Some(rustix::io::Errno::CHILD),
        "the server {pid:?} was reaped by its site"
    );
}
