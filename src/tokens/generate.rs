//! `lineup keys generate`: writes a new Ed25519 signing key (PKCS#8 PEM) for
//! `LINEUP_SIGNING_KEY_FILES`, and prints its `kid`.

use super::keys::SigningKey;
use anyhow::Context;
use clap::{Args, Subcommand};
use std::io::Write;
use std::path::PathBuf;

#[derive(Debug, Args)]
pub struct KeysArgs {
    #[command(subcommand)]
    pub command: KeysCommand,
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Write a new Ed25519 private key (PKCS#8 PEM, readable by its owner
    /// only) and print its kid. Never overwrites a file.
    Generate {
        /// Where to write the key; standard output when absent.
        #[arg(long)]
        out: Option<PathBuf>,
    },
}

pub fn run(args: &KeysArgs) -> anyhow::Result<()> {
    match &args.command {
        KeysCommand::Generate { out } => {
            let key = SigningKey::generate()?;
            match out {
                Some(path) => {
                    write_new_private_file(path, key.to_pem().as_bytes())?;
                    println!("{}", key.kid());
                }
                None => print!("{}", key.to_pem()),
            }
            eprintln!(
                "lineup: Ed25519 key {} (add it to LINEUP_SIGNING_KEY_FILES)",
                key.kid()
            );
            Ok(())
        }
    }
}

/// Creates `path` (failing if it exists) with mode 0600 on Unix.
fn write_new_private_file(path: &PathBuf, contents: &[u8]) -> anyhow::Result<()> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options
        .open(path)
        .with_context(|| format!("cannot create {} (it must not exist yet)", path.display()))?;
    file.write_all(contents)
        .with_context(|| format!("cannot write {}", path.display()))
}
