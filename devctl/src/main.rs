//! `devctl`: PAO's command-line tool. The offline commands a platform team runs in its
//! catalog repository's CI: `validate`, `preview`, `render`.

mod offline;

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
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("devctl: {e}");
            ExitCode::from(2)
        }
    }
}
