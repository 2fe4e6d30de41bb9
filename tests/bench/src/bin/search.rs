//! The node's local search at the size issue 22 names: 100,000 chat messages and 1,000 documents in the
//! node's store, their words drawn from the automerge-paper text. Measures what indexing costs per message
//! (`Node::keep_messages`: cache and index in one transaction) and the latency of `Node::search` for one
//! word, a prefix and two words, side by side in the same run with the baseline a store without an index
//! would use: `LIKE '%word%'` over the cached messages (messages only, so the baseline searches less).
//!
//! ```sh
//! cargo build --release -p teamflow-relay -p teamflow-bench && target/release/search
//! ```

use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use hdrhistogram::Histogram;
use rand::rngs::StdRng;
use rand::seq::SliceRandom as _;
use rand::{Rng as _, SeedableRng as _};
use teamflow_bench::servers::start_relay;
use teamflow_bench::{Machine, Trace, data_dir};
use teamflow_node::Node;
use teamflow_protocol::api::messages::{Message, MessageKind};
use teamflow_protocol::{MessageId, TeamId, UserId};

#[derive(Parser, Debug)]
struct Args {
    #[arg(long, default_value_t = 100_000)]
    messages: usize,
    #[arg(long, default_value_t = 1_000)]
    documents: usize,
    /// Queries of each kind (one word, a prefix, two words).
    #[arg(long, default_value_t = 300)]
    queries: usize,
    #[arg(long, default_value_t = 22)]
    seed: u64,
}

const AUTHORS: [&str; 8] = ["Ada", "Bob", "Carol", "Dave", "Erin", "Frank", "Grace", "Heidi"];
const BATCH: usize = 1_000;

fn sentence(rng: &mut StdRng, words: &[String], min: usize, max: usize) -> String {
    let n = rng.gen_range(min..=max);
    (0..n).map(|_| words.choose(rng).map(String::as_str).unwrap_or("word")).collect::<Vec<_>>().join(" ")
}

fn summary(name: &str, h: &Histogram<u64>) -> String {
    let ms = |v: u64| v as f64 / 1000.0;
    format!(
        "| {name} | {:.2} ms | {:.2} ms | {:.2} ms | {} |",
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max()),
        h.len()
    )
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let mut rng = StdRng::seed_from_u64(args.seed);
    let trace = Trace::load(&data_dir().join("editing-traces/automerge-paper.json.gz"))?;
    // The paper's words in text order, so common words are drawn as often as they occur.
    let words: Vec<String> = trace
        .end_content
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 3)
        .map(str::to_lowercase)
        .collect();
    anyhow::ensure!(words.len() > 1_000, "the trace has too few words");

    let (_relay, base, _relay_dir) = start_relay().await?;
    let dir = tempfile::tempdir()?;
    let node = Node::open(dir.path(), &base).await?;
    let me = node.sign_up("bench@example.test", "correct horse battery", "Bench").await?;
    let team: TeamId = node.create_team("Search bench").await?.id;

    eprintln!("keeping {} messages in batches of {BATCH}...", args.messages);
    let mut keeping = Duration::ZERO;
    let mut seq = 0i64;
    while (seq as usize) < args.messages {
        let batch: Vec<Message> = (0..BATCH.min(args.messages - seq as usize))
            .map(|_| {
                seq += 1;
                Message {
                    id: MessageId::new(),
                    team_id: team,
                    seq,
                    author_id: if seq % 2 == 0 { me.id } else { UserId::new() },
                    author_name: AUTHORS[seq as usize % AUTHORS.len()].into(),
                    client_id: format!("bench-{seq}"),
                    kind: MessageKind::Text,
                    content: sentence(&mut rng, &words, 4, 30),
                    created_at: time::OffsetDateTime::now_utc(),
                    edited_at: None,
                    deleted: false,
                    change_seq: None,
                    mentions: Vec::new(),
                    reactions: Vec::new(),
                }
            })
            .collect();
        let started = Instant::now();
        node.keep_messages(&batch).await?;
        keeping += started.elapsed();
    }

    eprintln!("creating {} documents...", args.documents);
    let started = Instant::now();
    for i in 0..args.documents {
        let title = format!("{} {i}", sentence(&mut rng, &words, 2, 4));
        node.create_document(team, &title, &sentence(&mut rng, &words, 150, 400)).await?;
    }
    let documents = started.elapsed();

    // Queries: a word, the first three or four letters of one, two words.
    let word = |rng: &mut StdRng| words.choose(rng).cloned().unwrap_or_default();
    let mut queries: Vec<(&str, String)> = Vec::new();
    for _ in 0..args.queries {
        queries.push(("one word", word(&mut rng)));
        let w = word(&mut rng);
        let cut = rng.gen_range(3..=4).min(w.chars().count());
        queries.push(("prefix", w.chars().take(cut).collect()));
        // Typed as a person types: the first word done, the second being typed.
        queries.push(("two words", format!("{} {}", word(&mut rng), word(&mut rng))));
    }
    queries.shuffle(&mut rng);

    // The baseline reads the same store through its own connection, as the node would without an index.
    let db = sqlx::sqlite::SqlitePoolOptions::new()
        .max_connections(1)
        .connect_with(sqlx::sqlite::SqliteConnectOptions::new().filename(dir.path().join("node.db")).read_only(true))
        .await
        .context("open the node's store")?;
    let mut fts = Histogram::<u64>::new(3)?;
    let mut like = Histogram::<u64>::new(3)?;
    let mut by_kind: std::collections::BTreeMap<&str, Histogram<u64>> = std::collections::BTreeMap::new();
    let mut found = 0usize;
    for (kind, query) in &queries {
        let started = Instant::now();
        found += node.search(query, 20).await?.len();
        let took = started.elapsed().as_micros() as u64;
        fts.record(took)?;
        by_kind.entry(kind).or_insert(Histogram::<u64>::new(3)?).record(took)?;

        let mut sql = String::from("SELECT json FROM cached_messages WHERE 1");
        let terms: Vec<String> = query.split_whitespace().map(|w| format!("%{w}%")).collect();
        for _ in &terms {
            sql.push_str(" AND json LIKE ?");
        }
        sql.push_str(" LIMIT 20");
        let mut q = sqlx::query_scalar::<_, String>(sqlx::AssertSqlSafe(sql));
        for term in &terms {
            q = q.bind(term);
        }
        let started = Instant::now();
        q.fetch_all(&db).await?;
        like.record(started.elapsed().as_micros() as u64)?;
    }
    let store = std::fs::metadata(dir.path().join("node.db"))?.len()
        + std::fs::metadata(dir.path().join("node.db-wal")).map(|m| m.len()).unwrap_or(0);

    println!("{}", Machine::describe());
    println!(
        "{} messages kept in {:.1} s: {:.1} µs per message (cache + index, batches of {BATCH}); {} documents \
         created in {:.1} s; store {:.1} MB",
        args.messages,
        keeping.as_secs_f64(),
        keeping.as_secs_f64() * 1e6 / args.messages as f64,
        args.documents,
        documents.as_secs_f64(),
        store as f64 / 1e6
    );
    println!("{} queries, {} hits in all\n", queries.len(), found);
    println!("| search | p50 | p99 | max | queries |");
    println!("|---|---|---|---|---|");
    println!("{}", summary("node (FTS5, messages + projects + documents)", &fts));
    println!("{}", summary("baseline: LIKE over cached messages only", &like));
    for (kind, h) in &by_kind {
        println!("{}", summary(&format!("node, {kind}"), h));
    }
    Ok(())
}
