//! `jikimi intake ...`: command-line access to the intake parsers (line in, JSON line out).

use std::io::{self, BufRead, Write};

use clap::{Args, Subcommand};

use crate::aml::{AmlError, AmlErrorClass, parse_form, parse_sms};

/// `jikimi intake`: device intake tools.
#[derive(Debug, Args)]
pub struct IntakeArgs {
    #[command(subcommand)]
    pub command: IntakeCommand,
}

#[derive(Debug, Subcommand)]
pub enum IntakeCommand {
    /// Parse AML payloads from stdin, one per line; print one JSON object per line
    /// (the parsed fields, or {"error", "field", "detail"}).
    Aml(AmlArgs),
}

#[derive(Debug, Args)]
pub struct AmlArgs {
    /// Lines are HTTPS form bodies (x-www-form-urlencoded) instead of SMS text.
    #[arg(long)]
    pub form: bool,
    /// Print JSON lines (the only output); accepted so that every command takes `--json`.
    #[arg(long)]
    pub json: bool,
}

/// Runs the subcommand on the process's stdin and stdout.
pub fn run(args: IntakeArgs) -> io::Result<()> {
    match args.command {
        IntakeCommand::Aml(a) => aml_lines(a.form, io::stdin().lock(), io::stdout().lock()),
    }
}

/// One JSON line per input line. Line terminators (`\n`, `\r\n`) belong to the transport and
/// are stripped; anything else, including bytes that are not UTF-8, goes to the parser.
pub fn aml_lines(form: bool, mut input: impl BufRead, mut out: impl Write) -> io::Result<()> {
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if input.read_until(b'\n', &mut buf)? == 0 {
            break;
        }
        if buf.last() == Some(&b'\n') {
            buf.pop();
            if buf.last() == Some(&b'\r') {
                buf.pop();
            }
        }
        let result = match std::str::from_utf8(&buf) {
            Ok(line) if form => parse_form(line),
            Ok(line) => parse_sms(line),
            Err(_) => Err(AmlError {
                error: AmlErrorClass::NonAscii,
                field: None,
                detail: "input is not UTF-8".into(),
            }),
        };
        let json = match result {
            Ok(report) => serde_json::to_string(&report),
            Err(e) => serde_json::to_string(&e),
        }
        .map_err(io::Error::other)?;
        writeln!(out, "{json}")?;
    }
    out.flush()
}
