//! `anxin`: one binary, several roles. With no subcommand it runs everything
//! a newcomer needs in one process: migrations, demo data, the API with the
//! dashboard, and the call worker.
use anxin::config::Settings;
use anxin::{demo, parse_area, parse_ttl, startup, telemetry, Application};
use anxin_core::token::{issue_token, Role};
use clap::{Parser, Subcommand};
use std::process::ExitCode;

// A request allocates and frees many small buffers on each actix worker
// thread; mimalloc's thread-local free lists make that cheaper than glibc's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "anxin",
    version,
    about = "Expert matching and two-way call booking"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Migrate and run the API and the call worker (the default); in
    /// development also seed demo data and print sign-in links and tokens.
    All {
        /// Also run synthetic seekers so the dashboard moves (development only).
        #[arg(long)]
        demo_traffic: bool,
    },
    /// Run the HTTP API.
    Serve,
    /// Run the call worker.
    Worker,
    /// Apply database migrations and exit.
    Migrate,
    /// Create or refresh the demo experts and print ready tokens.
    SeedDemo,
    /// Rebuild Redis from Postgres once and exit.
    Reconcile,
    /// Print a signed bearer token (development and tests).
    Token {
        #[arg(long, value_parser = parse_role)]
        role: Role,
        #[arg(long)]
        sub: String,
        #[arg(long, default_value = "1h", value_parser = parse_ttl)]
        ttl: std::time::Duration,
    },
    /// Print a one-time sign-in link for an operator (created if new) or an
    /// expert; send it to them by your own channel.
    SignInLink {
        /// The operator's name (their subject in the audit log).
        #[arg(long, conflicts_with = "expert", required_unless_present = "expert")]
        operator: Option<String>,
        /// The expert's id.
        #[arg(long)]
        expert: Option<uuid::Uuid>,
        /// Scope the operator to one area (north, east, central, south,
        /// west): they see and act within its regions only; `national`
        /// lifts the scope. Left as it is when not given.
        #[arg(long, requires = "operator", value_parser = parse_area)]
        area: Option<anxin_store::sign_in::OperatorArea>,
    },
    /// Operator accounts: a disabled operator's sessions end at once and
    /// their bearer tokens stop within seconds on every instance (audited).
    Operator {
        #[command(subcommand)]
        command: OperatorCommand,
    },
    /// Host-app webhooks.
    Webhooks {
        #[command(subcommand)]
        command: WebhooksCommand,
    },
    /// Run the matching-market simulator (see `anxin sim --help`).
    Sim {
        #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
        args: Vec<String>,
    },
}

#[derive(Subcommand)]
enum OperatorCommand {
    /// Disable the operator with this name.
    Disable { name: String },
    /// Enable the operator with this name again.
    Enable { name: String },
}

#[derive(Subcommand)]
enum WebhooksCommand {
    /// Send every event made since then again (delivered and failed ones
    /// too); receivers drop repeats by `Anxin-Webhook-Id`.
    Replay {
        /// An RFC 3339 time (`2026-12-03T08:00:00Z`) or an age (`90m`, `6h`, `2d`).
        #[arg(long, value_parser = parse_since)]
        since: chrono::DateTime<chrono::Utc>,
    },
}

/// `--since`: a time, or how long ago.
fn parse_since(s: &str) -> Result<chrono::DateTime<chrono::Utc>, String> {
    if let Ok(at) = chrono::DateTime::parse_from_rfc3339(s) {
        return Ok(at.with_timezone(&chrono::Utc));
    }
    let ago = parse_ttl(s).map_err(|_| {
        format!("expected an RFC 3339 time or an age such as 90m, 6h or 2d, found {s:?}")
    })?;
    Ok(chrono::Utc::now() - chrono::Duration::from_std(ago).map_err(|e| e.to_string())?)
}

/// `anxin token <role>` takes the role's own names.
fn parse_role(s: &str) -> Result<Role, String> {
    Role::parse(s).ok_or_else(|| {
        let names: Vec<&str> = Role::ALL.iter().map(|r| r.as_str()).collect();
        format!("expected one of: {}", names.join(", "))
    })
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli.command.unwrap_or(Command::All {
        demo_traffic: false,
    }))
    .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("anxin: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(command: Command) -> anyhow::Result<()> {
    let settings = Settings::load()?;
    match command {
        Command::Token { role, sub, ttl } => {
            let secrets = settings.secrets()?;
            println!("{}", issue_token(&secrets.jwt_secret, role, &sub, ttl)?);
            Ok(())
        }
        Command::SignInLink {
            operator,
            expert,
            area,
        } => {
            telemetry::init(&settings.log_format);
            let state = startup::build_state(&settings).await?;
            let by = anxin_store::audit::Actor {
                role: "cli",
                id: "anxin sign-in-link".into(),
            };
            let link = match (operator, expert) {
                (Some(name), _) => {
                    anxin_core::flows::sign_in::link_for_operator_in(
                        &state,
                        &by,
                        &name,
                        area.unwrap_or(anxin_store::sign_in::OperatorArea::Keep),
                    )
                    .await?
                }
                (None, Some(id)) => {
                    let id = anxin_domain::ids::ExpertId(id);
                    anxin_core::flows::sign_in::link_for_expert(&state, &by, id).await?
                }
                (None, None) => anyhow::bail!("name --operator <name> or --expert <id>"),
            };
            println!("{}", link.url);
            eprintln!("(one use, valid until {})", link.expires_at.to_rfc3339());
            Ok(())
        }
        Command::Operator { command } => {
            telemetry::init(&settings.log_format);
            let state = startup::build_state(&settings).await?;
            let by = anxin_store::audit::Actor {
                role: "cli",
                id: "anxin operator".into(),
            };
            let (name, disabled) = match &command {
                OperatorCommand::Disable { name } => (name, true),
                OperatorCommand::Enable { name } => (name, false),
            };
            anxin_core::flows::sign_in::set_operator_disabled(&state, &by, name, disabled).await?;
            println!(
                "operator {name:?} {}",
                if disabled { "disabled" } else { "enabled" }
            );
            Ok(())
        }
        Command::Webhooks {
            command: WebhooksCommand::Replay { since },
        } => {
            telemetry::init(&settings.log_format);
            let state = startup::build_state(&settings).await?;
            let n = anxin_core::flows::webhooks::replay(&state, since).await?;
            println!(
                "{n} webhook events since {} will be sent again",
                since.to_rfc3339()
            );
            Ok(())
        }
        Command::Sim { args } => anxin_sim::cli(&args).map_err(anyhow::Error::msg),
        Command::Migrate => {
            telemetry::init(&settings.log_format);
            startup::build_state(&settings).await?;
            println!("migrations applied to {}", redact(&settings.database_url));
            Ok(())
        }
        Command::Reconcile => {
            telemetry::init(&settings.log_format);
            let state = startup::build_state(&settings).await?;
            let done = anxin_core::flows::reconcile::all(&state).await?;
            println!(
                "rebuilt {} experts: {} open slots, {} booked",
                done.experts, done.open_slots, done.booked_slots
            );
            Ok(())
        }
        Command::SeedDemo => {
            telemetry::init(&settings.log_format);
            let state = startup::build_state(&settings).await?;
            let seeded = demo::seed(&state).await?;
            print_welcome(&settings, &state, &seeded).await?;
            Ok(())
        }
        Command::Serve => {
            telemetry::init(&settings.log_format);
            let app = Application::build(&settings).await?;
            tracing::info!(port = app.port(), "serving");
            app.run_until_stopped().await?;
            Ok(())
        }
        Command::Worker => {
            telemetry::init(&settings.log_format);
            let metrics = anxin_core::metrics::Metrics::new();
            if let Some(listen) = &settings.worker_metrics_listen {
                let (port, server) = anxin::worker::serve_metrics(listen, metrics.clone())?;
                tracing::info!(port, "worker metrics at /metrics");
                tokio::spawn(server);
            }
            anxin::worker::run(&settings, &metrics, shutdown_signal()).await
        }
        Command::All { demo_traffic } => {
            telemetry::init(&settings.log_format);
            let app = Application::build(&settings).await?;
            // Production serves and works calls only: demo experts and
            // printed credentials are for a developer's machine.
            if settings.env == anxin::config::Environment::Production {
                tracing::info!(port = app.port(), "serving, with the call worker");
            } else {
                let seeded = demo::seed(&app.state()).await?;
                print_welcome(&settings, &app.state(), &seeded).await?;
            }
            if demo_traffic || settings.demo_traffic {
                if settings.env == anxin::config::Environment::Production {
                    anyhow::bail!("demo traffic is refused in production");
                }
                println!("Demo traffic is on: synthetic seekers book every few seconds (simulated calls).");
                tokio::spawn(demo::traffic(
                    app.state(),
                    std::time::Duration::from_millis(700),
                ));
            }
            let handle = app.handle();
            let worker = tokio::spawn({
                let settings = settings.clone();
                let state = app.state();
                async move { anxin::worker::run(&settings, &state.metrics, shutdown_signal()).await }
            });
            app.run_until_stopped().await?;
            handle.stop(true).await;
            worker.abort();
            Ok(())
        }
    }
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::select! {
                _ = ctrl_c => {},
                _ = term.recv() => {},
            }
            return;
        }
    }
    let _ = ctrl_c.await;
}

fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => format!("{}://***{}", &url[..s], &url[at..]),
        _ => url.to_string(),
    }
}

async fn print_welcome(
    settings: &Settings,
    state: &anxin_core::state::AppState,
    seeded: &demo::Seeded,
) -> anyhow::Result<()> {
    let secrets = settings.secrets()?;
    let day = std::time::Duration::from_secs(24 * 3600);
    let seeker = issue_token(&secrets.jwt_secret, Role::Seeker, "demo-seeker-1", day)?;
    let operator = issue_token(&secrets.jwt_secret, Role::Operator, "demo-operator", day)?;
    let expert_id = demo::first_expert_id();
    let expert = issue_token(
        &secrets.jwt_secret,
        Role::Expert,
        &expert_id.to_string(),
        day,
    )?;
    let by = anxin_store::audit::Actor {
        role: "cli",
        id: "anxin (demo)".into(),
    };
    let expert_link = anxin_core::flows::sign_in::link_for_expert(
        state,
        &by,
        anxin_domain::ids::ExpertId(expert_id),
    )
    .await?;
    let operator_link =
        anxin_core::flows::sign_in::link_for_operator(state, &by, "demo-operator").await?;
    // An administrator of the first demo organisation, for /org.
    let organisation = anxin_core::flows::organisations::published(state, None, None)
        .await?
        .into_iter()
        .next();
    let org_admin_line = match &organisation {
        Some(org) => {
            let (_, link) = anxin_core::flows::sign_in::link_for_org_admin(
                state,
                &by,
                org.id,
                "demo-org-admin",
            )
            .await?;
            format!("\n  org admin  {}       ({})", link.url, org.name)
        }
        None => String::new(),
    };
    // A supervisor of that organisation's volunteers, for /supervise.
    let supervisor = match &organisation {
        Some(org) => demo::supervisor(state, org.id).await?,
        None => None,
    };
    let supervisor_line = match supervisor {
        Some(s) => {
            let link = anxin_core::flows::sign_in::link_for_expert(state, &by, s).await?;
            format!(
                "\n  supervisor {}       (then {base}/supervise)",
                link.url,
                base = state.config.public_url
            )
        }
        None => String::new(),
    };
    let base = &state.config.public_url;
    println!(
        r#"
Anxin is ready: {total} demo experts ({created} new), {open} open slots.

  API        {base}
  Dashboard  {base}/ops          (sign in with the operator link below)
  Experts    {base}/expert       (sign in with the expert link below)
  Orgs       {base}/org          (an organisation's administrator; list: {base}/organisations)
  Supervise  {base}/supervise    (a supervisor of volunteers)
  Seekers    {base}/app#token={seeker}
             (the reference seeker app, as a host app opens it; valid 24 h)

  OpenAPI    {base}/openapi.json
  Metrics    {base}/metrics

Sign-in links (one use each, valid {link_hours} h; `anxin sign-in-link --operator <name>` makes more):
  operator   {operator_link}
  expert     {expert_link}       ({expert_name}){org_admin_line}{supervisor_line}

Tokens (valid 24 h):
  SEEKER={seeker}
  OPERATOR={operator}
  EXPERT={expert}

Try it:
  curl -s -H "Authorization: Bearer $SEEKER" {base}/v1/slate
  curl -s -X POST -H "Authorization: Bearer $SEEKER" -H 'Content-Type: application/json' \
       -d '{{"slot_id":"<slot_id from the slate>"}}' {base}/v1/holds
  curl -s -X POST -H "Authorization: Bearer $SEEKER" {base}/v1/holds/<hold_id>/payment
       (open its pay_url and press Pay: the simulated cashier; ANXIN_PAYMENT_PROVIDER=none skips this)
  curl -s -X POST -H "Authorization: Bearer $SEEKER" -H 'Content-Type: application/json' \
       -d '{{"hold_id":"<hold_id>","phone":"+8613812345678"}}' {base}/v1/bookings
  curl -s -H "Authorization: Bearer $EXPERT" {base}/v1/experts/me/bookings
"#,
        total = seeded.total,
        created = seeded.created,
        open = seeded.open_slots,
        link_hours = state.config.sign_in_link_ttl.as_secs() / 3600,
        operator_link = operator_link.url,
        expert_link = expert_link.url,
        expert_name = demo::first_expert_name(),
    );
    Ok(())
}
