//! `teamflow`: parses arguments and runs one command over the headless node.

use clap::Parser as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = teamflow_node::cli::Cli::parse();
    teamflow_node::cli::run(cli, tokio::io::stdin(), &mut std::io::stdout()).await
}
