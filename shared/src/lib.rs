//! cogs-core: everything the entry points share. Layers, lowest first: `model` and
//! `money` (values), `engine` (pure FIFO allocator), `ingest` (CSV readers),
//! `journal` (pure renderers), `db` (PostgreSQL), `service` (the use cases), and for
//! the Lambda functions `lambda` (configuration, context, serving) and `http` (what HTTP
//! functions share), both with feature `lambda`. See docs/DESIGN.md.

/// The allocator of every binary that links the core (the functions, `cogs`, the tests
/// and benchmarks). It keeps memory a call has freed for the next instead of handing
/// large blocks back to the system, so a costing does not fault in fresh pages for
/// its outputs every time, and it is quicker with the many small tables a costing
/// makes: the engine costs the reference data 15–30% faster (README, "Performance").
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
