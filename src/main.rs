use clap::Parser;
use lineup::app::{Application, shutdown_signal};
use lineup::config::{Cli, Command, Config, LogFormat};
use secrecy::ExposeSecret;
use std::process::ExitCode;

/// mimalloc instead of glibc's malloc: the request path allocates small and
/// often (headers, JSON, futures), and glibc's malloc and free were a fifth of
/// a status poll's CPU in perf (docs/BENCHMARKS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    // One crypto provider for the whole process (reqwest, rustls, jsonwebtoken).
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let result = match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Migrate(args) => migrate(args).await,
        Command::Admin(args) => lineup::admin_cli::run(args).await,
        Command::Openapi => {
            print!("{}", lineup::http::openapi::spec_json());
            Ok(())
        }
        Command::Keys(args) => lineup::tokens::run_keys_command(&args),
        Command::VerifyShuffle(args) => lineup::fairness::verify_shuffle(&args),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("lineup: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(args: lineup::config::ServeArgs) -> anyhow::Result<()> {
    let config = Config::from_args(args)?;
    lineup::telemetry::init(config.log_format);
    let demo = config.demo;
    let admin_token = config.admin.token.clone();
    let app = Application::build(config).await?;
    let scheme = if app.is_tls() { "https" } else { "http" };
    let port = app.local_addr().port();
    tracing::info!(address = %app.local_addr(), "lineup is listening on {scheme}://localhost:{port}");
    if demo {
        print_demo_guide(
            scheme,
            port,
            admin_token.as_ref().map(|t| t.expose_secret()),
        );
    }
    app.run_until_stopped(shutdown_signal()).await
}

async fn migrate(args: lineup::config::DatabaseArgs) -> anyhow::Result<()> {
    lineup::telemetry::init(LogFormat::Pretty);
    let pool =
        lineup::store::postgres::connect(&args.database_url, 1, std::time::Duration::from_secs(5))
            .await?;
    lineup::store::postgres::migrate(&pool).await?;
    println!("migrations applied");
    Ok(())
}

fn print_demo_guide(scheme: &str, port: u16, admin_token: Option<&str>) {
    let base = format!("{scheme}://localhost:{port}");
    let concert = lineup::demo::DEMO_CONCERT_ID;
    println!();
    println!("  lineup demo is up at {base}");
    println!("  demo concert id: {concert}");
    if let Some(token) = admin_token {
        println!("  admin token:     {token}");
    }
    println!();
    println!("  try it (-k: the certificate is self-signed):");
    println!("    curl -k -X POST {base}/api/v1/users");
    println!("    curl -k {base}/api/v1/concerts/{concert}/schedules");
    println!(
        "    curl -k -X POST -H \"Authorization: Bearer $ACCESS_TOKEN\" {base}/api/v1/concerts/{concert}/queue"
    );
    println!();
}
