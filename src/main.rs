//! The `wristband` binary: parse the command line, validate the configuration,
//! then serve or migrate. Any failure is one line on stderr and a non-zero exit.

use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wristband::config::{Config, Settings};
use wristband::startup::{self, Application};

/// Self-hosted authentication server.
#[derive(Parser)]
#[command(name = "wristband", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    settings: Settings,
}

#[derive(Subcommand)]
enum Command {
    /// Serve HTTP (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
}

fn main() -> ExitCode {
    // A missing .env is normal; a malformed one is reported like any bad setting.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("wristband: cannot read .env: {e}");
        return ExitCode::from(2);
    }
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = Cli::parse();
    let config = match Config::from_settings(&cli.settings) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("wristband: {e}");
            return ExitCode::from(2);
        }
    };
    let result = match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(config),
        Command::Migrate => {
            startup::prepare_database(&config).map(|_| eprintln!("wristband: migrations applied"))
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wristband: {e}");
            ExitCode::FAILURE
        }
    }
}

fn serve(config: Config) -> Result<(), startup::StartupError> {
    actix_web::rt::System::new().block_on(async {
        let app = Application::build(config).await?;
        println!("wristband listening on {}", app.url());
        let _ = std::io::stdout().flush();
        app.run_until_stopped()
            .await
            .map_err(|e| startup::StartupError(e.to_string()))
    })
}
