//! The `wristband` binary: parse the command line, validate the configuration,
//! then serve or migrate. Any failure is one line on stderr and a non-zero exit.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use wristband::config::{Config, Settings};
use wristband::startup::{self, Application};
use wristband::users::{self, AdminSetup};

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
    Serve {
        /// A throw-away server for tests and demos: in-memory SQLite, a free
        /// port on 127.0.0.1, a generated key, bcrypt cost 4.
        #[arg(long)]
        ephemeral: bool,
    },
    /// Apply pending database migrations and exit.
    Migrate,
    /// Create an admin, or make an existing account admin with this password
    /// (enabled, sessions revoked). The password comes from
    /// WRISTBAND_ADMIN_PASSWORD, else from stdin (not echoed on a terminal).
    CreateAdmin {
        /// The admin's email.
        #[arg(long)]
        email: String,
    },
    /// Retire the signing key and make a new one (of WRISTBAND_JWT_ALG)
    /// current. Running instances switch within a second; tokens signed by
    /// the old key verify until the access TTL plus leeway has passed.
    /// Refresh tokens are not affected.
    RotateKey,
}

fn main() -> ExitCode {
    // A missing .env is normal; a malformed one is reported like any bad setting.
    if let Err(e) = dotenvy::dotenv()
        && !e.not_found()
    {
        eprintln!("wristband: cannot read .env: {e}");
        return ExitCode::from(2);
    }
    let cli = Cli::parse();
    let settings = match cli.command {
        Some(Command::Serve { ephemeral: true }) => cli.settings.clone().ephemeral(),
        _ => cli.settings.clone(),
    };
    let config = match Config::from_settings(&settings) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("wristband: {e}");
            return ExitCode::from(2);
        }
    };
    wristband::logging::init(config.operations.log_format);
    let command = cli.command.unwrap_or(Command::Serve { ephemeral: false });
    let result = match command {
        Command::Serve { .. } => serve(config),
        Command::Migrate => {
            startup::open_database(&config).map(|_| eprintln!("wristband: migrations applied"))
        }
        Command::CreateAdmin { email } => {
            create_admin(&config, cli.settings.admin_password, &email)
        }
        Command::RotateKey => startup::rotate_key(&config).map(|kid| {
            println!("{kid}");
            eprintln!("wristband: signing key {kid} is current");
        }),
    };
    wristband::logging::flush();
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
            .map_err(|e| startup::StartupError::because("the server failed", e))
    })
}

fn read_password(email: &str) -> Result<String, startup::StartupError> {
    let failed = |e: std::io::Error| startup::StartupError::because("cannot read the password", e);
    if std::io::stdin().is_terminal() {
        let password =
            rpassword::prompt_password(format!("Password for {email}: ")).map_err(failed)?;
        let again = rpassword::prompt_password("Repeat the password: ").map_err(failed)?;
        if password != again {
            return Err(startup::StartupError::new("the passwords differ"));
        }
        return Ok(password);
    }
    let mut line = String::new();
    std::io::stdin().read_line(&mut line).map_err(failed)?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}

fn create_admin(
    config: &Config,
    password: Option<String>,
    email: &str,
) -> Result<(), startup::StartupError> {
    let password = match password.filter(|p| !p.is_empty()) {
        Some(password) => password,
        None => read_password(email)?,
    };
    let db = startup::open_database(config)?;
    let mut conn = startup::connection(&db)?;
    let outcome = users::setup_admin(
        &mut conn,
        email,
        &password,
        config.sessions.bcrypt_cost,
        true,
    )
    .map_err(|e| startup::StartupError::because("cannot set up the admin", e))?;
    let what = match outcome {
        AdminSetup::Created => "created",
        _ => "updated (admin, enabled, new password, sessions revoked)",
    };
    eprintln!("wristband: admin {email} {what}");
    Ok(())
}
