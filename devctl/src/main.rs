//! `devctl`: PAO's command-line tool. Offline commands a platform team runs in its catalog
//! repository's CI (`validate`, `preview`, `render`), and SigV4-signed calls to the API
//! (`catalog`, `submit`, `requests`, `get`, `status`, `logs`, `retry`, `abort`, `escalate`,
//! `approvals`, `approval`, `approve`, `reject`, and for operators `queue`).

mod approvals;
mod live;
mod offline;
mod queue;
mod remote;
mod secrets;

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
    /// List the catalog, or follow its repository: `refresh`, `sync` (signed API calls).
    #[command(
        after_help = "Examples:\n  devctl catalog --category database\n  devctl catalog refresh     # sync the catalog to the repository branch's head now\n  devctl catalog sync        # the commit in force and the documents it refused",
        args_conflicts_with_subcommands = true
    )]
    Catalog {
        #[command(subcommand)]
        action: Option<CatalogAction>,
        #[arg(long)]
        category: Option<String>,
        /// Search in ids, names, descriptions and tags.
        #[arg(long, short)]
        q: Option<String>,
    },
    /// Submit a request: a JSON file {"items": [...]} (signed API call).
    #[command(
        after_help = "Password fields are never given on the command line. On a terminal, devctl asks for each\npassword field the file leaves empty, without echo; in scripts, name where each value is:\n\nExamples:\n  devctl submit request.json --idempotency-key deploy-42\n  DB_PW=… devctl submit db.json --secret-from-env storage.masterPassword=DB_PW\n  vault read -field=pw secret/db | devctl submit db.json --secret-stdin storage.masterPassword"
    )]
    Submit {
        file: PathBuf,
        /// Submitting again with the same key and file creates nothing new.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// A password field's value from an environment variable (repeatable; ITEM is the
        /// item's number in the file, default 0).
        #[arg(long = "secret-from-env", value_name = "[ITEM:]GROUP.FIELD=VARIABLE")]
        secret_from_env: Vec<secrets::FromEnv>,
        /// One password field's value read from standard input.
        #[arg(long = "secret-stdin", value_name = "[ITEM:]GROUP.FIELD")]
        secret_stdin: Option<String>,
    },
    /// Your requests, newest first (signed API call).
    Requests {
        #[arg(long)]
        state: Option<String>,
        /// `mine` (the default) or `team`: the requests of everyone whose IAM `team` tag is yours.
        #[arg(long)]
        scope: Option<String>,
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
    /// Run a failed request's failed task again, as a new attempt (signed API call).
    #[command(
        after_help = "A failed request keeps its password values for a while; past that, supply them again:\n  devctl retry req-… --secret storage.masterPassword              # asked without echo\n  DB_PW=… devctl retry req-… --secret-from-env storage.masterPassword=DB_PW\n  devctl retry req-… --secret storage.masterPassword < pw.txt     # one field from stdin"
    )]
    Retry {
        request_id: String,
        /// Retrying again with the same key does nothing more.
        #[arg(long)]
        idempotency_key: Option<String>,
        /// A password field to supply again: asked without echo on a terminal, else read from
        /// standard input (one field).
        #[arg(long = "secret", value_name = "GROUP.FIELD")]
        secret: Vec<String>,
        /// A password field to supply again, from an environment variable.
        #[arg(long = "secret-from-env", value_name = "GROUP.FIELD=VARIABLE")]
        secret_from_env: Vec<secrets::FromEnv>,
    },
    /// Stop a request: what has not run never will (signed API call).
    Abort {
        request_id: String,
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Follow a request until it ends: a progress bar in a terminal, a line per change
    /// otherwise; exit status 0 when it completes, 1 when it ends otherwise (signed API calls).
    Watch {
        request_id: String,
        /// Seconds between looks.
        #[arg(long, default_value_t = 2)]
        interval: u64,
    },
    /// Hand a failed request's remaining tasks to people as linked JIRA tickets (signed API call).
    Escalate {
        request_id: String,
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Requests waiting for your approval, newest first (signed API call).
    #[command(
        after_help = "Example:\n  devctl approvals\n  req-6f1c… orders (database-aurora-postgresql) by dev@example.com, requested 2h ago · dba (0 of 1)"
    )]
    Approvals {
        #[arg(long)]
        limit: Option<u32>,
        #[arg(long)]
        cursor: Option<String>,
    },
    /// One request's approval: its input, stages, who decides now and every decision (signed
    /// API call).
    Approval { approval_id: String },
    /// Approve a request's current stage; the last approval runs it (signed API call).
    Approve {
        approval_id: String,
        /// Why (optional to approve).
        #[arg(long)]
        comment: Option<String>,
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Reject a request: it ends `rejected` and nothing runs (signed API call).
    Reject {
        approval_id: String,
        /// Why: required, the requester reads it.
        #[arg(long)]
        comment: String,
        #[arg(long)]
        idempotency_key: Option<String>,
    },
    /// Operators: queue statistics, waiting tasks, dead letters and their redrive (signed
    /// API calls; the caller must be an operator).
    #[command(
        after_help = "Examples:\n  devctl queue stats\n  devctl queue messages --state stuck\n  devctl queue dlq\n  devctl queue redrive 5f0c…   # one dead letter\n  devctl queue redrive --all\n\nAgainst the local stack without AWS credentials, queue commands sign as the local operator (AKIAPAOLOCALOPERATOR)."
    )]
    Queue {
        #[command(subcommand)]
        action: queue::QueueAction,
    },
}

#[derive(Subcommand, Debug)]
enum CatalogAction {
    /// Sync the catalog to the repository branch's head now (POST /catalog/refresh).
    Refresh,
    /// The snapshot in force: commit, time, documents and rejections (GET /catalog/sync).
    Sync,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let tools = matches!(
        cli.command,
        Command::Validate { .. } | Command::Preview { .. } | Command::Render { .. }
    );
    if tools && cli.api.is_some() {
        return remote_tools(&cli);
    }
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

/// `validate`, `preview` and `render` with `--api`: the API's `/tools` routes check the files
/// together with the catalog in force.
fn remote_tools(cli: &Cli) -> ExitCode {
    let target = match remote::Target::from_env(cli.api.clone()) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("devctl: {e}");
            return ExitCode::from(2);
        }
    };
    let read = |path: &std::path::Path| {
        std::fs::read_to_string(path).map_err(|e| {
            eprintln!("devctl: {}: {e}", path.display());
            ExitCode::from(2)
        })
    };
    let post = |path: &str, body: serde_json::Value| {
        remote::send(
            &target,
            "POST",
            path,
            Some(body.to_string().into_bytes()),
            None,
        )
    };
    let outcome = match &cli.command {
        Command::Validate { paths } => {
            let files = match offline::document_files(paths) {
                Ok(f) => f,
                Err(e) => {
                    eprintln!("devctl: {e}");
                    return ExitCode::from(2);
                }
            };
            match post("/tools/validate", serde_json::json!({"files": files})) {
                Ok((200, answer)) => {
                    let problems: Vec<pao::problem::Problem> = answer
                        .pointer("/data/problems")
                        .cloned()
                        .and_then(|p| serde_json::from_value(p).ok())
                        .unwrap_or_default();
                    return offline::print_problems(&problems, files.len(), cli.json);
                }
                other => other,
            }
        }
        Command::Preview { file } => match read(file) {
            Ok(document) => post(
                "/tools/preview",
                serde_json::json!({"document": document, "path": offline::repo_path(file)}),
            ),
            Err(code) => return code,
        },
        Command::Render {
            file,
            input,
            outputs,
        } => {
            let (document, input_text) = match (read(file), read(input)) {
                (Ok(d), Ok(i)) => (d, i),
                (Err(code), _) | (_, Err(code)) => return code,
            };
            let Ok(input) = serde_json::from_str::<serde_json::Value>(&input_text) else {
                eprintln!("devctl: {}: not valid JSON", input.display());
                return ExitCode::from(2);
            };
            let outputs: serde_json::Map<String, serde_json::Value> = outputs
                .iter()
                .map(|(k, v)| (k.clone(), serde_json::Value::String(v.clone())))
                .collect();
            post(
                "/tools/test-variables",
                serde_json::json!({"document": document, "path": offline::repo_path(file),
                                   "input": input, "outputs": outputs}),
            )
        }
        _ => return ExitCode::from(2),
    };
    match outcome {
        Ok((status, answer)) => remote::print_answer(status, &answer, cli.json),
        Err(code) => code,
    }
}

fn remote_main(cli: &Cli, command: &Command) -> ExitCode {
    let target = match remote::Target::from_env(cli.api.clone()) {
        Ok(t) if matches!(command, Command::Queue { .. }) => t.signing_as_local_operator(),
        Ok(t) => t,
        Err(e) => {
            eprintln!("devctl: {e}");
            return ExitCode::from(2);
        }
    };
    let get = |path: String| remote::call(&target, "GET", &path, None, None, cli.json);
    match command {
        Command::Catalog {
            action: Some(CatalogAction::Refresh),
            ..
        } => remote::call(&target, "POST", "/catalog/refresh", None, None, cli.json),
        Command::Catalog {
            action: Some(CatalogAction::Sync),
            ..
        } => get("/catalog/sync".to_string()),
        Command::Catalog {
            action: None,
            category,
            q,
        } => get(remote::with_query(
            "/catalog",
            &[("category", category.clone()), ("q", q.clone())],
        )),
        Command::Submit {
            file,
            idempotency_key,
            secret_from_env,
            secret_stdin,
        } => match submission_body(&target, file, secret_from_env, secret_stdin.as_deref()) {
            Ok(body) => remote::call(
                &target,
                "POST",
                "/requests",
                Some(body),
                idempotency_key.as_deref(),
                cli.json,
            ),
            Err(e) => {
                eprintln!("devctl: {e}");
                ExitCode::from(2)
            }
        },
        Command::Requests {
            state,
            scope,
            limit,
            cursor,
        } => get(remote::with_query(
            "/requests",
            &[
                ("state", state.clone()),
                ("scope", scope.clone()),
                ("limit", limit.map(|l| l.to_string())),
                ("cursor", cursor.clone()),
            ],
        )),
        Command::Get { request_id } => get(format!("/requests/{request_id}")),
        Command::Status { request_id } => get(format!("/requests/{request_id}/status")),
        Command::Logs { request_id } => get(format!("/requests/{request_id}/logs")),
        Command::Retry {
            request_id,
            idempotency_key,
            secret,
            secret_from_env,
        } => match retry_body(secret, secret_from_env) {
            Ok(body) => remote::call(
                &target,
                "POST",
                &format!("/requests/{request_id}/retry"),
                body,
                idempotency_key.as_deref(),
                cli.json,
            ),
            Err(e) => {
                eprintln!("devctl: {e}");
                ExitCode::from(2)
            }
        },
        Command::Abort {
            request_id,
            idempotency_key,
        } => remote::call(
            &target,
            "POST",
            &format!("/requests/{request_id}/abort"),
            None,
            idempotency_key.as_deref(),
            cli.json,
        ),
        Command::Watch {
            request_id,
            interval,
        } => remote::watch(&target, request_id, *interval, cli.json),
        Command::Escalate {
            request_id,
            idempotency_key,
        } => remote::call(
            &target,
            "POST",
            &format!("/requests/{request_id}/escalate"),
            None,
            idempotency_key.as_deref(),
            cli.json,
        ),
        Command::Approvals { limit, cursor } => {
            approvals::pending(&target, *limit, cursor.as_deref(), cli.json)
        }
        Command::Approval { approval_id } => get(format!(
            "/approvals/{}",
            pao::signing::uri_encode(approval_id.as_bytes(), false)
        )),
        Command::Approve {
            approval_id,
            comment,
            idempotency_key,
        } => approvals::decide(
            &target,
            approval_id,
            "approve",
            comment.as_deref(),
            idempotency_key.as_deref(),
            cli.json,
        ),
        Command::Reject {
            approval_id,
            comment,
            idempotency_key,
        } => approvals::decide(
            &target,
            approval_id,
            "reject",
            Some(comment),
            idempotency_key.as_deref(),
            cli.json,
        ),
        Command::Queue { action } => queue::run(&target, action, cli.json),
        Command::Validate { .. } | Command::Preview { .. } | Command::Render { .. } => {
            ExitCode::from(2)
        }
    }
}

/// The submission file with its password fields filled: from the environment, from standard
/// input, and on a terminal by asking for each one the file leaves empty (the items' forms
/// say which fields are passwords).
fn submission_body(
    target: &remote::Target,
    file: &std::path::Path,
    from_env: &[secrets::FromEnv],
    from_stdin: Option<&str>,
) -> Result<Vec<u8>, String> {
    let text = std::fs::read(file).map_err(|e| format!("{}: {e}", file.display()))?;
    if from_env.is_empty() && from_stdin.is_none() && !secrets::can_prompt() {
        return Ok(text);
    }
    let mut submission: serde_json::Value =
        serde_json::from_slice(&text).map_err(|e| format!("{}: not JSON: {e}", file.display()))?;
    for spec in from_env {
        let value = secrets::from_env(&spec.var)?;
        secrets::set(&mut submission, spec.item, &spec.field, value)?;
    }
    if let Some(spec) = from_stdin {
        let (item, field) = secrets::item_field(spec)?;
        secrets::set(&mut submission, item, &field, secrets::from_stdin()?)?;
    }
    if from_stdin.is_none() && secrets::can_prompt() {
        let items = submission["items"].as_array().cloned().unwrap_or_default();
        for (i, item) in items.iter().enumerate() {
            let Some(id) = item["catalogItemId"]
                .as_str()
                .or_else(|| item["bundleId"].as_str())
            else {
                continue;
            };
            // Without the form nothing is asked: the API says what is missing.
            let Ok((200, form)) = remote::send(
                target,
                "GET",
                &format!(
                    "/catalog/{}/form",
                    pao::signing::uri_encode(id.as_bytes(), false)
                ),
                None,
                None,
            ) else {
                continue;
            };
            for (field, label, required) in secrets::password_fields(&form["data"]) {
                if !secrets::given(&submission, i, &field) {
                    if let Some(value) = secrets::prompt(&field, &label, required)? {
                        secrets::set(&mut submission, i, &field, value)?;
                    }
                }
            }
        }
    }
    serde_json::to_vec(&submission).map_err(|e| e.to_string())
}

/// A retry's body: `{"secrets": {...}}` when password values are supplied again.
fn retry_body(fields: &[String], from_env: &[secrets::FromEnv]) -> Result<Option<Vec<u8>>, String> {
    let mut supplied = serde_json::Map::new();
    for spec in from_env {
        supplied.insert(spec.field.clone(), secrets::from_env(&spec.var)?.into());
    }
    let prompt = secrets::can_prompt();
    if !prompt && fields.len() > 1 {
        return Err(
            "standard input gives one password: name the others with --secret-from-env".into(),
        );
    }
    for field in fields {
        secrets::check_field(field)?;
        let value = if prompt {
            secrets::prompt(field, "", true)?.unwrap_or_default()
        } else {
            secrets::from_stdin()?
        };
        supplied.insert(field.clone(), value.into());
    }
    if supplied.is_empty() {
        return Ok(None);
    }
    serde_json::to_vec(&serde_json::json!({"secrets": supplied}))
        .map(Some)
        .map_err(|e| e.to_string())
}
