//! `devctl`: PAO's command-line tool. Offline commands a platform team runs in its catalog
//! repository's CI (`validate`, `preview`, `render`), and SigV4-signed calls to the API
//! (`catalog`, `submit`, `requests`, `get`, `status`, `logs`).

mod offline;
mod remote;

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Parser, Debug)]
#[command(
    name = "devctl",
    version,
    about = "PAO command-line tool: author, check and preview catalog items",
    after_help = "Exit status: 0 success, 1 problems found (invalid catalog or input), 2 usage or I/O error."
)]
struct Cli {
    /// Print machine-readable JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// The API's base URL [env: PAO_API_URL; default: the local stack]
    #[arg(long, global = true, value_name = "URL")]
    api: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Validate catalog documents: JSON Schema and semantic checks.
    #[command(
        after_help = "Examples:\n  devctl validate .                        # the whole catalog repository\n  devctl validate catalog/database/aurora.yaml bundles/\n  devctl validate --json . | jq '.problems[]'"
    )]
    Validate {
        /// Catalog repository roots, folders inside one, or document files.
        #[arg(default_value = ".")]
        paths: Vec<PathBuf>,
    },
    /// Show a document's form as the JSON a portal renders.
    #[command(after_help = "Example:\n  devctl preview catalog/database/aurora-postgresql.yaml")]
    Preview {
        /// A CatalogItem or CatalogBundle file inside a catalog repository.
        file: PathBuf,
    },
    /// Render every fulfillment item's config against sample input.
    #[command(
        after_help = "Examples:\n  devctl render catalog/database/aurora-postgresql.yaml --input sample.json\n  devctl render bundles/full-application-stack.yaml --input stack.json --output dbEndpoint=db.example.com\n\nOutputs of earlier items that --output does not give render as <key>."
    )]
    Render {
        /// A CatalogItem or CatalogBundle file inside a catalog repository.
        file: PathBuf,
        /// The request input as JSON: {"name": "...", "<group>": {"<field>": ...}}.
        #[arg(long, short)]
        input: PathBuf,
        /// A value for `.output.<key>`, as key=value (repeatable).
        #[arg(long = "output", short, value_name = "KEY=VALUE", value_parser = offline::parse_output)]
        outputs: Vec<(String, String)>,
    },
    /// List the catalog (signed API call).
    #[command(after_help = "Example:\n  devctl catalog --category database")]
    Catalog {
        #[arg(long)]
        category: Option<String>,
        /// Search in ids, names, descriptions and tags.
        #[arg(long, short)]
        q: Option<String>,
    },
    /// Submit a request: a JSON file {"items": [...]} (signed API call).
    #[command(after_help = "Example:\n  devctl submit request.json --idempotency-key deploy-42")]
    Submit {
        file: PathBuf,
        /// Submitting again with the same key and file creates nothing new.
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Your requests, newest first (signed API call).
    Requests {
        #[arg(long)]
        state: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// A request with its tasks (signed API call).
    Get { request_id: String },
    /// A request's state, progress and current task (signed API call).
    Status { request_id: String },
    /// A request's audit log (signed API call).
    Logs { request_id: String },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match &cli.command {
        Command::Validate { paths } => offline::validate(paths, cli.json),
        Command::Preview { file } => offline::preview(file, cli.json),
        Command::Render {
            file,
            input,
            outputs,
        } => offline::render(file, input, outputs, cli.json),
        remote_command => return remote_main(&cli, remote_command),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("devctl: {e}");
            ExitCode::from(2)
        }
    }
}

fn remote_main(cli: &Cli, command: &Command) -> ExitCode {
    let target = match remote::Target::from_env(cli.api.clone()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("devctl: {e}");
            return ExitCode::from(2);
        }
    };
    let get = |path: String| remote::call(&target, "GET", &path, None, None, cli.json);
    match command {
        Command::Catalog { category, q } => get(remote::with_query(
            "/catalog",
            &[("category", category.clone()), ("q", q.clone())],
        )),
        Command::Submit {
            file,
            idempotency_key,
        } => match std::fs::read(file) {
            Ok(body) => remote::call(
                &target,
                "POST",
                "/requests",
                Some(body),
                idempotency_key.as_deref(),
                cli.json,
            ),
            Err(e) => {
                eprintln!("devctl: {}: {e}", file.display());
                ExitCode::from(2)
            }
        },
        Command::Requests {
            state,
            limit,
            cursor,
        } => get(remote::with_query(
            "/requests",
            &[
                ("state", state.clone()),
                ("limit", limit.map(|l| l.to_string())),
                ("cursor", cursor.clone()),
            ],
        )),
        Command::Get { request_id } => get(format!("/requests/{request_id}")),
        Command::Status { request_id } => get(format!("/requests/{request_id}/status")),
        Command::Logs { request_id } => get(format!("/requests/{request_id}/logs")),
        Command::Validate { .. } | Command::Preview { .. } | Command::Render { .. } => {
            ExitCode::from(2)
        }
    }
}
