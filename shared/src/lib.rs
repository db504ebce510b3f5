//! cogs-core: everything the entry points share. Layers, lowest first: `model` and
//! `money` (values), `engine` (pure FIFO allocator), `ingest` (CSV readers),
//! `journal` (pure renderers), `db` (PostgreSQL), `service` (the use cases), and for
//! the Lambda functions `lambda` (configuration, context, serving) and `http` (what HTTP
//! functions share), both with feature `lambda`. See docs/DESIGN.md.

/// mimalloc keeps what a costing frees for the next instead of faulting in fresh
/// pages, and is quicker with a costing's many small tables (docs/DECISIONS.md, "Code").
#[cfg(feature = "mimalloc")]
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

pub mod db;
pub mod engine;
#[cfg(feature = "lambda")]
pub mod http;
pub mod ingest;
pub mod journal;
#[cfg(feature = "lambda")]
pub mod lambda;
pub mod model;
pub mod money;
pub mod service;
pub mod staging;
